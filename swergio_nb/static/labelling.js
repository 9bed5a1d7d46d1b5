// Built by js/build.mjs from js/labelling.js: edit that file and run `npm --prefix js run build`.
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __commonJS = (cb, mod) => function __require() {
  try {
    return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
  } catch (e) {
    throw mod = 0, e;
  }
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));

// node_modules/json5/dist/index.js
var require_dist = __commonJS({
  "node_modules/json5/dist/index.js"(exports, module) {
    (function(global, factory) {
      typeof exports === "object" && typeof module !== "undefined" ? module.exports = factory() : typeof define === "function" && define.amd ? define(factory) : global.JSON5 = factory();
    })(exports, (function() {
      "use strict";
      function createCommonjsModule(fn, module2) {
        return module2 = { exports: {} }, fn(module2, module2.exports), module2.exports;
      }
      var _global = createCommonjsModule(function(module2) {
        var global = module2.exports = typeof window != "undefined" && window.Math == Math ? window : typeof self != "undefined" && self.Math == Math ? self : Function("return this")();
        if (typeof __g == "number") {
          __g = global;
        }
      });
      var _core = createCommonjsModule(function(module2) {
        var core = module2.exports = { version: "2.6.5" };
        if (typeof __e == "number") {
          __e = core;
        }
      });
      var _core_1 = _core.version;
      var _isObject = function(it) {
        return typeof it === "object" ? it !== null : typeof it === "function";
      };
      var _anObject = function(it) {
        if (!_isObject(it)) {
          throw TypeError(it + " is not an object!");
        }
        return it;
      };
      var _fails = function(exec) {
        try {
          return !!exec();
        } catch (e) {
          return true;
        }
      };
      var _descriptors = !_fails(function() {
        return Object.defineProperty({}, "a", { get: function() {
          return 7;
        } }).a != 7;
      });
      var document2 = _global.document;
      var is = _isObject(document2) && _isObject(document2.createElement);
      var _domCreate = function(it) {
        return is ? document2.createElement(it) : {};
      };
      var _ie8DomDefine = !_descriptors && !_fails(function() {
        return Object.defineProperty(_domCreate("div"), "a", { get: function() {
          return 7;
        } }).a != 7;
      });
      var _toPrimitive = function(it, S) {
        if (!_isObject(it)) {
          return it;
        }
        var fn, val;
        if (S && typeof (fn = it.toString) == "function" && !_isObject(val = fn.call(it))) {
          return val;
        }
        if (typeof (fn = it.valueOf) == "function" && !_isObject(val = fn.call(it))) {
          return val;
        }
        if (!S && typeof (fn = it.toString) == "function" && !_isObject(val = fn.call(it))) {
          return val;
        }
        throw TypeError("Can't convert object to primitive value");
      };
      var dP = Object.defineProperty;
      var f = _descriptors ? Object.defineProperty : function defineProperty(O, P, Attributes) {
        _anObject(O);
        P = _toPrimitive(P, true);
        _anObject(Attributes);
        if (_ie8DomDefine) {
          try {
            return dP(O, P, Attributes);
          } catch (e) {
          }
        }
        if ("get" in Attributes || "set" in Attributes) {
          throw TypeError("Accessors not supported!");
        }
        if ("value" in Attributes) {
          O[P] = Attributes.value;
        }
        return O;
      };
      var _objectDp = {
        f
      };
      var _propertyDesc = function(bitmap, value) {
        return {
          enumerable: !(bitmap & 1),
          configurable: !(bitmap & 2),
          writable: !(bitmap & 4),
          value
        };
      };
      var _hide = _descriptors ? function(object, key2, value) {
        return _objectDp.f(object, key2, _propertyDesc(1, value));
      } : function(object, key2, value) {
        object[key2] = value;
        return object;
      };
      var hasOwnProperty = {}.hasOwnProperty;
      var _has = function(it, key2) {
        return hasOwnProperty.call(it, key2);
      };
      var id = 0;
      var px = Math.random();
      var _uid = function(key2) {
        return "Symbol(".concat(key2 === void 0 ? "" : key2, ")_", (++id + px).toString(36));
      };
      var _library = false;
      var _shared = createCommonjsModule(function(module2) {
        var SHARED = "__core-js_shared__";
        var store = _global[SHARED] || (_global[SHARED] = {});
        (module2.exports = function(key2, value) {
          return store[key2] || (store[key2] = value !== void 0 ? value : {});
        })("versions", []).push({
          version: _core.version,
          mode: _library ? "pure" : "global",
          copyright: "© 2019 Denis Pushkarev (zloirock.ru)"
        });
      });
      var _functionToString = _shared("native-function-to-string", Function.toString);
      var _redefine = createCommonjsModule(function(module2) {
        var SRC = _uid("src");
        var TO_STRING = "toString";
        var TPL = ("" + _functionToString).split(TO_STRING);
        _core.inspectSource = function(it) {
          return _functionToString.call(it);
        };
        (module2.exports = function(O, key2, val, safe) {
          var isFunction = typeof val == "function";
          if (isFunction) {
            _has(val, "name") || _hide(val, "name", key2);
          }
          if (O[key2] === val) {
            return;
          }
          if (isFunction) {
            _has(val, SRC) || _hide(val, SRC, O[key2] ? "" + O[key2] : TPL.join(String(key2)));
          }
          if (O === _global) {
            O[key2] = val;
          } else if (!safe) {
            delete O[key2];
            _hide(O, key2, val);
          } else if (O[key2]) {
            O[key2] = val;
          } else {
            _hide(O, key2, val);
          }
        })(Function.prototype, TO_STRING, function toString() {
          return typeof this == "function" && this[SRC] || _functionToString.call(this);
        });
      });
      var _aFunction = function(it) {
        if (typeof it != "function") {
          throw TypeError(it + " is not a function!");
        }
        return it;
      };
      var _ctx = function(fn, that, length) {
        _aFunction(fn);
        if (that === void 0) {
          return fn;
        }
        switch (length) {
          case 1:
            return function(a) {
              return fn.call(that, a);
            };
          case 2:
            return function(a, b) {
              return fn.call(that, a, b);
            };
          case 3:
            return function(a, b, c2) {
              return fn.call(that, a, b, c2);
            };
        }
        return function() {
          return fn.apply(that, arguments);
        };
      };
      var PROTOTYPE = "prototype";
      var $export = function(type, name, source2) {
        var IS_FORCED = type & $export.F;
        var IS_GLOBAL = type & $export.G;
        var IS_STATIC = type & $export.S;
        var IS_PROTO = type & $export.P;
        var IS_BIND = type & $export.B;
        var target = IS_GLOBAL ? _global : IS_STATIC ? _global[name] || (_global[name] = {}) : (_global[name] || {})[PROTOTYPE];
        var exports2 = IS_GLOBAL ? _core : _core[name] || (_core[name] = {});
        var expProto = exports2[PROTOTYPE] || (exports2[PROTOTYPE] = {});
        var key2, own, out, exp;
        if (IS_GLOBAL) {
          source2 = name;
        }
        for (key2 in source2) {
          own = !IS_FORCED && target && target[key2] !== void 0;
          out = (own ? target : source2)[key2];
          exp = IS_BIND && own ? _ctx(out, _global) : IS_PROTO && typeof out == "function" ? _ctx(Function.call, out) : out;
          if (target) {
            _redefine(target, key2, out, type & $export.U);
          }
          if (exports2[key2] != out) {
            _hide(exports2, key2, exp);
          }
          if (IS_PROTO && expProto[key2] != out) {
            expProto[key2] = out;
          }
        }
      };
      _global.core = _core;
      $export.F = 1;
      $export.G = 2;
      $export.S = 4;
      $export.P = 8;
      $export.B = 16;
      $export.W = 32;
      $export.U = 64;
      $export.R = 128;
      var _export = $export;
      var ceil = Math.ceil;
      var floor = Math.floor;
      var _toInteger = function(it) {
        return isNaN(it = +it) ? 0 : (it > 0 ? floor : ceil)(it);
      };
      var _defined = function(it) {
        if (it == void 0) {
          throw TypeError("Can't call method on  " + it);
        }
        return it;
      };
      var _stringAt = function(TO_STRING) {
        return function(that, pos2) {
          var s = String(_defined(that));
          var i = _toInteger(pos2);
          var l = s.length;
          var a, b;
          if (i < 0 || i >= l) {
            return TO_STRING ? "" : void 0;
          }
          a = s.charCodeAt(i);
          return a < 55296 || a > 56319 || i + 1 === l || (b = s.charCodeAt(i + 1)) < 56320 || b > 57343 ? TO_STRING ? s.charAt(i) : a : TO_STRING ? s.slice(i, i + 2) : (a - 55296 << 10) + (b - 56320) + 65536;
        };
      };
      var $at = _stringAt(false);
      _export(_export.P, "String", {
        // 21.1.3.3 String.prototype.codePointAt(pos)
        codePointAt: function codePointAt2(pos2) {
          return $at(this, pos2);
        }
      });
      var codePointAt = _core.String.codePointAt;
      var max = Math.max;
      var min = Math.min;
      var _toAbsoluteIndex = function(index, length) {
        index = _toInteger(index);
        return index < 0 ? max(index + length, 0) : min(index, length);
      };
      var fromCharCode = String.fromCharCode;
      var $fromCodePoint = String.fromCodePoint;
      _export(_export.S + _export.F * (!!$fromCodePoint && $fromCodePoint.length != 1), "String", {
        // 21.1.2.2 String.fromCodePoint(...codePoints)
        fromCodePoint: function fromCodePoint2(x) {
          var arguments$1 = arguments;
          var res = [];
          var aLen = arguments.length;
          var i = 0;
          var code;
          while (aLen > i) {
            code = +arguments$1[i++];
            if (_toAbsoluteIndex(code, 1114111) !== code) {
              throw RangeError(code + " is not a valid code point");
            }
            res.push(
              code < 65536 ? fromCharCode(code) : fromCharCode(((code -= 65536) >> 10) + 55296, code % 1024 + 56320)
            );
          }
          return res.join("");
        }
      });
      var fromCodePoint = _core.String.fromCodePoint;
      var Space_Separator = /[\u1680\u2000-\u200A\u202F\u205F\u3000]/;
      var ID_Start = /[\xAA\xB5\xBA\xC0-\xD6\xD8-\xF6\xF8-\u02C1\u02C6-\u02D1\u02E0-\u02E4\u02EC\u02EE\u0370-\u0374\u0376\u0377\u037A-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u0559\u0561-\u0587\u05D0-\u05EA\u05F0-\u05F2\u0620-\u064A\u066E\u066F\u0671-\u06D3\u06D5\u06E5\u06E6\u06EE\u06EF\u06FA-\u06FC\u06FF\u0710\u0712-\u072F\u074D-\u07A5\u07B1\u07CA-\u07EA\u07F4\u07F5\u07FA\u0800-\u0815\u081A\u0824\u0828\u0840-\u0858\u0860-\u086A\u08A0-\u08B4\u08B6-\u08BD\u0904-\u0939\u093D\u0950\u0958-\u0961\u0971-\u0980\u0985-\u098C\u098F\u0990\u0993-\u09A8\u09AA-\u09B0\u09B2\u09B6-\u09B9\u09BD\u09CE\u09DC\u09DD\u09DF-\u09E1\u09F0\u09F1\u09FC\u0A05-\u0A0A\u0A0F\u0A10\u0A13-\u0A28\u0A2A-\u0A30\u0A32\u0A33\u0A35\u0A36\u0A38\u0A39\u0A59-\u0A5C\u0A5E\u0A72-\u0A74\u0A85-\u0A8D\u0A8F-\u0A91\u0A93-\u0AA8\u0AAA-\u0AB0\u0AB2\u0AB3\u0AB5-\u0AB9\u0ABD\u0AD0\u0AE0\u0AE1\u0AF9\u0B05-\u0B0C\u0B0F\u0B10\u0B13-\u0B28\u0B2A-\u0B30\u0B32\u0B33\u0B35-\u0B39\u0B3D\u0B5C\u0B5D\u0B5F-\u0B61\u0B71\u0B83\u0B85-\u0B8A\u0B8E-\u0B90\u0B92-\u0B95\u0B99\u0B9A\u0B9C\u0B9E\u0B9F\u0BA3\u0BA4\u0BA8-\u0BAA\u0BAE-\u0BB9\u0BD0\u0C05-\u0C0C\u0C0E-\u0C10\u0C12-\u0C28\u0C2A-\u0C39\u0C3D\u0C58-\u0C5A\u0C60\u0C61\u0C80\u0C85-\u0C8C\u0C8E-\u0C90\u0C92-\u0CA8\u0CAA-\u0CB3\u0CB5-\u0CB9\u0CBD\u0CDE\u0CE0\u0CE1\u0CF1\u0CF2\u0D05-\u0D0C\u0D0E-\u0D10\u0D12-\u0D3A\u0D3D\u0D4E\u0D54-\u0D56\u0D5F-\u0D61\u0D7A-\u0D7F\u0D85-\u0D96\u0D9A-\u0DB1\u0DB3-\u0DBB\u0DBD\u0DC0-\u0DC6\u0E01-\u0E30\u0E32\u0E33\u0E40-\u0E46\u0E81\u0E82\u0E84\u0E87\u0E88\u0E8A\u0E8D\u0E94-\u0E97\u0E99-\u0E9F\u0EA1-\u0EA3\u0EA5\u0EA7\u0EAA\u0EAB\u0EAD-\u0EB0\u0EB2\u0EB3\u0EBD\u0EC0-\u0EC4\u0EC6\u0EDC-\u0EDF\u0F00\u0F40-\u0F47\u0F49-\u0F6C\u0F88-\u0F8C\u1000-\u102A\u103F\u1050-\u1055\u105A-\u105D\u1061\u1065\u1066\u106E-\u1070\u1075-\u1081\u108E\u10A0-\u10C5\u10C7\u10CD\u10D0-\u10FA\u10FC-\u1248\u124A-\u124D\u1250-\u1256\u1258\u125A-\u125D\u1260-\u1288\u128A-\u128D\u1290-\u12B0\u12B2-\u12B5\u12B8-\u12BE\u12C0\u12C2-\u12C5\u12C8-\u12D6\u12D8-\u1310\u1312-\u1315\u1318-\u135A\u1380-\u138F\u13A0-\u13F5\u13F8-\u13FD\u1401-\u166C\u166F-\u167F\u1681-\u169A\u16A0-\u16EA\u16EE-\u16F8\u1700-\u170C\u170E-\u1711\u1720-\u1731\u1740-\u1751\u1760-\u176C\u176E-\u1770\u1780-\u17B3\u17D7\u17DC\u1820-\u1877\u1880-\u1884\u1887-\u18A8\u18AA\u18B0-\u18F5\u1900-\u191E\u1950-\u196D\u1970-\u1974\u1980-\u19AB\u19B0-\u19C9\u1A00-\u1A16\u1A20-\u1A54\u1AA7\u1B05-\u1B33\u1B45-\u1B4B\u1B83-\u1BA0\u1BAE\u1BAF\u1BBA-\u1BE5\u1C00-\u1C23\u1C4D-\u1C4F\u1C5A-\u1C7D\u1C80-\u1C88\u1CE9-\u1CEC\u1CEE-\u1CF1\u1CF5\u1CF6\u1D00-\u1DBF\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2071\u207F\u2090-\u209C\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2139\u213C-\u213F\u2145-\u2149\u214E\u2160-\u2188\u2C00-\u2C2E\u2C30-\u2C5E\u2C60-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\u2D00-\u2D25\u2D27\u2D2D\u2D30-\u2D67\u2D6F\u2D80-\u2D96\u2DA0-\u2DA6\u2DA8-\u2DAE\u2DB0-\u2DB6\u2DB8-\u2DBE\u2DC0-\u2DC6\u2DC8-\u2DCE\u2DD0-\u2DD6\u2DD8-\u2DDE\u2E2F\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303C\u3041-\u3096\u309D-\u309F\u30A1-\u30FA\u30FC-\u30FF\u3105-\u312E\u3131-\u318E\u31A0-\u31BA\u31F0-\u31FF\u3400-\u4DB5\u4E00-\u9FEA\uA000-\uA48C\uA4D0-\uA4FD\uA500-\uA60C\uA610-\uA61F\uA62A\uA62B\uA640-\uA66E\uA67F-\uA69D\uA6A0-\uA6EF\uA717-\uA71F\uA722-\uA788\uA78B-\uA7AE\uA7B0-\uA7B7\uA7F7-\uA801\uA803-\uA805\uA807-\uA80A\uA80C-\uA822\uA840-\uA873\uA882-\uA8B3\uA8F2-\uA8F7\uA8FB\uA8FD\uA90A-\uA925\uA930-\uA946\uA960-\uA97C\uA984-\uA9B2\uA9CF\uA9E0-\uA9E4\uA9E6-\uA9EF\uA9FA-\uA9FE\uAA00-\uAA28\uAA40-\uAA42\uAA44-\uAA4B\uAA60-\uAA76\uAA7A\uAA7E-\uAAAF\uAAB1\uAAB5\uAAB6\uAAB9-\uAABD\uAAC0\uAAC2\uAADB-\uAADD\uAAE0-\uAAEA\uAAF2-\uAAF4\uAB01-\uAB06\uAB09-\uAB0E\uAB11-\uAB16\uAB20-\uAB26\uAB28-\uAB2E\uAB30-\uAB5A\uAB5C-\uAB65\uAB70-\uABE2\uAC00-\uD7A3\uD7B0-\uD7C6\uD7CB-\uD7FB\uF900-\uFA6D\uFA70-\uFAD9\uFB00-\uFB06\uFB13-\uFB17\uFB1D\uFB1F-\uFB28\uFB2A-\uFB36\uFB38-\uFB3C\uFB3E\uFB40\uFB41\uFB43\uFB44\uFB46-\uFBB1\uFBD3-\uFD3D\uFD50-\uFD8F\uFD92-\uFDC7\uFDF0-\uFDFB\uFE70-\uFE74\uFE76-\uFEFC\uFF21-\uFF3A\uFF41-\uFF5A\uFF66-\uFFBE\uFFC2-\uFFC7\uFFCA-\uFFCF\uFFD2-\uFFD7\uFFDA-\uFFDC]|\uD800[\uDC00-\uDC0B\uDC0D-\uDC26\uDC28-\uDC3A\uDC3C\uDC3D\uDC3F-\uDC4D\uDC50-\uDC5D\uDC80-\uDCFA\uDD40-\uDD74\uDE80-\uDE9C\uDEA0-\uDED0\uDF00-\uDF1F\uDF2D-\uDF4A\uDF50-\uDF75\uDF80-\uDF9D\uDFA0-\uDFC3\uDFC8-\uDFCF\uDFD1-\uDFD5]|\uD801[\uDC00-\uDC9D\uDCB0-\uDCD3\uDCD8-\uDCFB\uDD00-\uDD27\uDD30-\uDD63\uDE00-\uDF36\uDF40-\uDF55\uDF60-\uDF67]|\uD802[\uDC00-\uDC05\uDC08\uDC0A-\uDC35\uDC37\uDC38\uDC3C\uDC3F-\uDC55\uDC60-\uDC76\uDC80-\uDC9E\uDCE0-\uDCF2\uDCF4\uDCF5\uDD00-\uDD15\uDD20-\uDD39\uDD80-\uDDB7\uDDBE\uDDBF\uDE00\uDE10-\uDE13\uDE15-\uDE17\uDE19-\uDE33\uDE60-\uDE7C\uDE80-\uDE9C\uDEC0-\uDEC7\uDEC9-\uDEE4\uDF00-\uDF35\uDF40-\uDF55\uDF60-\uDF72\uDF80-\uDF91]|\uD803[\uDC00-\uDC48\uDC80-\uDCB2\uDCC0-\uDCF2]|\uD804[\uDC03-\uDC37\uDC83-\uDCAF\uDCD0-\uDCE8\uDD03-\uDD26\uDD50-\uDD72\uDD76\uDD83-\uDDB2\uDDC1-\uDDC4\uDDDA\uDDDC\uDE00-\uDE11\uDE13-\uDE2B\uDE80-\uDE86\uDE88\uDE8A-\uDE8D\uDE8F-\uDE9D\uDE9F-\uDEA8\uDEB0-\uDEDE\uDF05-\uDF0C\uDF0F\uDF10\uDF13-\uDF28\uDF2A-\uDF30\uDF32\uDF33\uDF35-\uDF39\uDF3D\uDF50\uDF5D-\uDF61]|\uD805[\uDC00-\uDC34\uDC47-\uDC4A\uDC80-\uDCAF\uDCC4\uDCC5\uDCC7\uDD80-\uDDAE\uDDD8-\uDDDB\uDE00-\uDE2F\uDE44\uDE80-\uDEAA\uDF00-\uDF19]|\uD806[\uDCA0-\uDCDF\uDCFF\uDE00\uDE0B-\uDE32\uDE3A\uDE50\uDE5C-\uDE83\uDE86-\uDE89\uDEC0-\uDEF8]|\uD807[\uDC00-\uDC08\uDC0A-\uDC2E\uDC40\uDC72-\uDC8F\uDD00-\uDD06\uDD08\uDD09\uDD0B-\uDD30\uDD46]|\uD808[\uDC00-\uDF99]|\uD809[\uDC00-\uDC6E\uDC80-\uDD43]|[\uD80C\uD81C-\uD820\uD840-\uD868\uD86A-\uD86C\uD86F-\uD872\uD874-\uD879][\uDC00-\uDFFF]|\uD80D[\uDC00-\uDC2E]|\uD811[\uDC00-\uDE46]|\uD81A[\uDC00-\uDE38\uDE40-\uDE5E\uDED0-\uDEED\uDF00-\uDF2F\uDF40-\uDF43\uDF63-\uDF77\uDF7D-\uDF8F]|\uD81B[\uDF00-\uDF44\uDF50\uDF93-\uDF9F\uDFE0\uDFE1]|\uD821[\uDC00-\uDFEC]|\uD822[\uDC00-\uDEF2]|\uD82C[\uDC00-\uDD1E\uDD70-\uDEFB]|\uD82F[\uDC00-\uDC6A\uDC70-\uDC7C\uDC80-\uDC88\uDC90-\uDC99]|\uD835[\uDC00-\uDC54\uDC56-\uDC9C\uDC9E\uDC9F\uDCA2\uDCA5\uDCA6\uDCA9-\uDCAC\uDCAE-\uDCB9\uDCBB\uDCBD-\uDCC3\uDCC5-\uDD05\uDD07-\uDD0A\uDD0D-\uDD14\uDD16-\uDD1C\uDD1E-\uDD39\uDD3B-\uDD3E\uDD40-\uDD44\uDD46\uDD4A-\uDD50\uDD52-\uDEA5\uDEA8-\uDEC0\uDEC2-\uDEDA\uDEDC-\uDEFA\uDEFC-\uDF14\uDF16-\uDF34\uDF36-\uDF4E\uDF50-\uDF6E\uDF70-\uDF88\uDF8A-\uDFA8\uDFAA-\uDFC2\uDFC4-\uDFCB]|\uD83A[\uDC00-\uDCC4\uDD00-\uDD43]|\uD83B[\uDE00-\uDE03\uDE05-\uDE1F\uDE21\uDE22\uDE24\uDE27\uDE29-\uDE32\uDE34-\uDE37\uDE39\uDE3B\uDE42\uDE47\uDE49\uDE4B\uDE4D-\uDE4F\uDE51\uDE52\uDE54\uDE57\uDE59\uDE5B\uDE5D\uDE5F\uDE61\uDE62\uDE64\uDE67-\uDE6A\uDE6C-\uDE72\uDE74-\uDE77\uDE79-\uDE7C\uDE7E\uDE80-\uDE89\uDE8B-\uDE9B\uDEA1-\uDEA3\uDEA5-\uDEA9\uDEAB-\uDEBB]|\uD869[\uDC00-\uDED6\uDF00-\uDFFF]|\uD86D[\uDC00-\uDF34\uDF40-\uDFFF]|\uD86E[\uDC00-\uDC1D\uDC20-\uDFFF]|\uD873[\uDC00-\uDEA1\uDEB0-\uDFFF]|\uD87A[\uDC00-\uDFE0]|\uD87E[\uDC00-\uDE1D]/;
      var ID_Continue = /[\xAA\xB5\xBA\xC0-\xD6\xD8-\xF6\xF8-\u02C1\u02C6-\u02D1\u02E0-\u02E4\u02EC\u02EE\u0300-\u0374\u0376\u0377\u037A-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u0483-\u0487\u048A-\u052F\u0531-\u0556\u0559\u0561-\u0587\u0591-\u05BD\u05BF\u05C1\u05C2\u05C4\u05C5\u05C7\u05D0-\u05EA\u05F0-\u05F2\u0610-\u061A\u0620-\u0669\u066E-\u06D3\u06D5-\u06DC\u06DF-\u06E8\u06EA-\u06FC\u06FF\u0710-\u074A\u074D-\u07B1\u07C0-\u07F5\u07FA\u0800-\u082D\u0840-\u085B\u0860-\u086A\u08A0-\u08B4\u08B6-\u08BD\u08D4-\u08E1\u08E3-\u0963\u0966-\u096F\u0971-\u0983\u0985-\u098C\u098F\u0990\u0993-\u09A8\u09AA-\u09B0\u09B2\u09B6-\u09B9\u09BC-\u09C4\u09C7\u09C8\u09CB-\u09CE\u09D7\u09DC\u09DD\u09DF-\u09E3\u09E6-\u09F1\u09FC\u0A01-\u0A03\u0A05-\u0A0A\u0A0F\u0A10\u0A13-\u0A28\u0A2A-\u0A30\u0A32\u0A33\u0A35\u0A36\u0A38\u0A39\u0A3C\u0A3E-\u0A42\u0A47\u0A48\u0A4B-\u0A4D\u0A51\u0A59-\u0A5C\u0A5E\u0A66-\u0A75\u0A81-\u0A83\u0A85-\u0A8D\u0A8F-\u0A91\u0A93-\u0AA8\u0AAA-\u0AB0\u0AB2\u0AB3\u0AB5-\u0AB9\u0ABC-\u0AC5\u0AC7-\u0AC9\u0ACB-\u0ACD\u0AD0\u0AE0-\u0AE3\u0AE6-\u0AEF\u0AF9-\u0AFF\u0B01-\u0B03\u0B05-\u0B0C\u0B0F\u0B10\u0B13-\u0B28\u0B2A-\u0B30\u0B32\u0B33\u0B35-\u0B39\u0B3C-\u0B44\u0B47\u0B48\u0B4B-\u0B4D\u0B56\u0B57\u0B5C\u0B5D\u0B5F-\u0B63\u0B66-\u0B6F\u0B71\u0B82\u0B83\u0B85-\u0B8A\u0B8E-\u0B90\u0B92-\u0B95\u0B99\u0B9A\u0B9C\u0B9E\u0B9F\u0BA3\u0BA4\u0BA8-\u0BAA\u0BAE-\u0BB9\u0BBE-\u0BC2\u0BC6-\u0BC8\u0BCA-\u0BCD\u0BD0\u0BD7\u0BE6-\u0BEF\u0C00-\u0C03\u0C05-\u0C0C\u0C0E-\u0C10\u0C12-\u0C28\u0C2A-\u0C39\u0C3D-\u0C44\u0C46-\u0C48\u0C4A-\u0C4D\u0C55\u0C56\u0C58-\u0C5A\u0C60-\u0C63\u0C66-\u0C6F\u0C80-\u0C83\u0C85-\u0C8C\u0C8E-\u0C90\u0C92-\u0CA8\u0CAA-\u0CB3\u0CB5-\u0CB9\u0CBC-\u0CC4\u0CC6-\u0CC8\u0CCA-\u0CCD\u0CD5\u0CD6\u0CDE\u0CE0-\u0CE3\u0CE6-\u0CEF\u0CF1\u0CF2\u0D00-\u0D03\u0D05-\u0D0C\u0D0E-\u0D10\u0D12-\u0D44\u0D46-\u0D48\u0D4A-\u0D4E\u0D54-\u0D57\u0D5F-\u0D63\u0D66-\u0D6F\u0D7A-\u0D7F\u0D82\u0D83\u0D85-\u0D96\u0D9A-\u0DB1\u0DB3-\u0DBB\u0DBD\u0DC0-\u0DC6\u0DCA\u0DCF-\u0DD4\u0DD6\u0DD8-\u0DDF\u0DE6-\u0DEF\u0DF2\u0DF3\u0E01-\u0E3A\u0E40-\u0E4E\u0E50-\u0E59\u0E81\u0E82\u0E84\u0E87\u0E88\u0E8A\u0E8D\u0E94-\u0E97\u0E99-\u0E9F\u0EA1-\u0EA3\u0EA5\u0EA7\u0EAA\u0EAB\u0EAD-\u0EB9\u0EBB-\u0EBD\u0EC0-\u0EC4\u0EC6\u0EC8-\u0ECD\u0ED0-\u0ED9\u0EDC-\u0EDF\u0F00\u0F18\u0F19\u0F20-\u0F29\u0F35\u0F37\u0F39\u0F3E-\u0F47\u0F49-\u0F6C\u0F71-\u0F84\u0F86-\u0F97\u0F99-\u0FBC\u0FC6\u1000-\u1049\u1050-\u109D\u10A0-\u10C5\u10C7\u10CD\u10D0-\u10FA\u10FC-\u1248\u124A-\u124D\u1250-\u1256\u1258\u125A-\u125D\u1260-\u1288\u128A-\u128D\u1290-\u12B0\u12B2-\u12B5\u12B8-\u12BE\u12C0\u12C2-\u12C5\u12C8-\u12D6\u12D8-\u1310\u1312-\u1315\u1318-\u135A\u135D-\u135F\u1380-\u138F\u13A0-\u13F5\u13F8-\u13FD\u1401-\u166C\u166F-\u167F\u1681-\u169A\u16A0-\u16EA\u16EE-\u16F8\u1700-\u170C\u170E-\u1714\u1720-\u1734\u1740-\u1753\u1760-\u176C\u176E-\u1770\u1772\u1773\u1780-\u17D3\u17D7\u17DC\u17DD\u17E0-\u17E9\u180B-\u180D\u1810-\u1819\u1820-\u1877\u1880-\u18AA\u18B0-\u18F5\u1900-\u191E\u1920-\u192B\u1930-\u193B\u1946-\u196D\u1970-\u1974\u1980-\u19AB\u19B0-\u19C9\u19D0-\u19D9\u1A00-\u1A1B\u1A20-\u1A5E\u1A60-\u1A7C\u1A7F-\u1A89\u1A90-\u1A99\u1AA7\u1AB0-\u1ABD\u1B00-\u1B4B\u1B50-\u1B59\u1B6B-\u1B73\u1B80-\u1BF3\u1C00-\u1C37\u1C40-\u1C49\u1C4D-\u1C7D\u1C80-\u1C88\u1CD0-\u1CD2\u1CD4-\u1CF9\u1D00-\u1DF9\u1DFB-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u203F\u2040\u2054\u2071\u207F\u2090-\u209C\u20D0-\u20DC\u20E1\u20E5-\u20F0\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2139\u213C-\u213F\u2145-\u2149\u214E\u2160-\u2188\u2C00-\u2C2E\u2C30-\u2C5E\u2C60-\u2CE4\u2CEB-\u2CF3\u2D00-\u2D25\u2D27\u2D2D\u2D30-\u2D67\u2D6F\u2D7F-\u2D96\u2DA0-\u2DA6\u2DA8-\u2DAE\u2DB0-\u2DB6\u2DB8-\u2DBE\u2DC0-\u2DC6\u2DC8-\u2DCE\u2DD0-\u2DD6\u2DD8-\u2DDE\u2DE0-\u2DFF\u2E2F\u3005-\u3007\u3021-\u302F\u3031-\u3035\u3038-\u303C\u3041-\u3096\u3099\u309A\u309D-\u309F\u30A1-\u30FA\u30FC-\u30FF\u3105-\u312E\u3131-\u318E\u31A0-\u31BA\u31F0-\u31FF\u3400-\u4DB5\u4E00-\u9FEA\uA000-\uA48C\uA4D0-\uA4FD\uA500-\uA60C\uA610-\uA62B\uA640-\uA66F\uA674-\uA67D\uA67F-\uA6F1\uA717-\uA71F\uA722-\uA788\uA78B-\uA7AE\uA7B0-\uA7B7\uA7F7-\uA827\uA840-\uA873\uA880-\uA8C5\uA8D0-\uA8D9\uA8E0-\uA8F7\uA8FB\uA8FD\uA900-\uA92D\uA930-\uA953\uA960-\uA97C\uA980-\uA9C0\uA9CF-\uA9D9\uA9E0-\uA9FE\uAA00-\uAA36\uAA40-\uAA4D\uAA50-\uAA59\uAA60-\uAA76\uAA7A-\uAAC2\uAADB-\uAADD\uAAE0-\uAAEF\uAAF2-\uAAF6\uAB01-\uAB06\uAB09-\uAB0E\uAB11-\uAB16\uAB20-\uAB26\uAB28-\uAB2E\uAB30-\uAB5A\uAB5C-\uAB65\uAB70-\uABEA\uABEC\uABED\uABF0-\uABF9\uAC00-\uD7A3\uD7B0-\uD7C6\uD7CB-\uD7FB\uF900-\uFA6D\uFA70-\uFAD9\uFB00-\uFB06\uFB13-\uFB17\uFB1D-\uFB28\uFB2A-\uFB36\uFB38-\uFB3C\uFB3E\uFB40\uFB41\uFB43\uFB44\uFB46-\uFBB1\uFBD3-\uFD3D\uFD50-\uFD8F\uFD92-\uFDC7\uFDF0-\uFDFB\uFE00-\uFE0F\uFE20-\uFE2F\uFE33\uFE34\uFE4D-\uFE4F\uFE70-\uFE74\uFE76-\uFEFC\uFF10-\uFF19\uFF21-\uFF3A\uFF3F\uFF41-\uFF5A\uFF66-\uFFBE\uFFC2-\uFFC7\uFFCA-\uFFCF\uFFD2-\uFFD7\uFFDA-\uFFDC]|\uD800[\uDC00-\uDC0B\uDC0D-\uDC26\uDC28-\uDC3A\uDC3C\uDC3D\uDC3F-\uDC4D\uDC50-\uDC5D\uDC80-\uDCFA\uDD40-\uDD74\uDDFD\uDE80-\uDE9C\uDEA0-\uDED0\uDEE0\uDF00-\uDF1F\uDF2D-\uDF4A\uDF50-\uDF7A\uDF80-\uDF9D\uDFA0-\uDFC3\uDFC8-\uDFCF\uDFD1-\uDFD5]|\uD801[\uDC00-\uDC9D\uDCA0-\uDCA9\uDCB0-\uDCD3\uDCD8-\uDCFB\uDD00-\uDD27\uDD30-\uDD63\uDE00-\uDF36\uDF40-\uDF55\uDF60-\uDF67]|\uD802[\uDC00-\uDC05\uDC08\uDC0A-\uDC35\uDC37\uDC38\uDC3C\uDC3F-\uDC55\uDC60-\uDC76\uDC80-\uDC9E\uDCE0-\uDCF2\uDCF4\uDCF5\uDD00-\uDD15\uDD20-\uDD39\uDD80-\uDDB7\uDDBE\uDDBF\uDE00-\uDE03\uDE05\uDE06\uDE0C-\uDE13\uDE15-\uDE17\uDE19-\uDE33\uDE38-\uDE3A\uDE3F\uDE60-\uDE7C\uDE80-\uDE9C\uDEC0-\uDEC7\uDEC9-\uDEE6\uDF00-\uDF35\uDF40-\uDF55\uDF60-\uDF72\uDF80-\uDF91]|\uD803[\uDC00-\uDC48\uDC80-\uDCB2\uDCC0-\uDCF2]|\uD804[\uDC00-\uDC46\uDC66-\uDC6F\uDC7F-\uDCBA\uDCD0-\uDCE8\uDCF0-\uDCF9\uDD00-\uDD34\uDD36-\uDD3F\uDD50-\uDD73\uDD76\uDD80-\uDDC4\uDDCA-\uDDCC\uDDD0-\uDDDA\uDDDC\uDE00-\uDE11\uDE13-\uDE37\uDE3E\uDE80-\uDE86\uDE88\uDE8A-\uDE8D\uDE8F-\uDE9D\uDE9F-\uDEA8\uDEB0-\uDEEA\uDEF0-\uDEF9\uDF00-\uDF03\uDF05-\uDF0C\uDF0F\uDF10\uDF13-\uDF28\uDF2A-\uDF30\uDF32\uDF33\uDF35-\uDF39\uDF3C-\uDF44\uDF47\uDF48\uDF4B-\uDF4D\uDF50\uDF57\uDF5D-\uDF63\uDF66-\uDF6C\uDF70-\uDF74]|\uD805[\uDC00-\uDC4A\uDC50-\uDC59\uDC80-\uDCC5\uDCC7\uDCD0-\uDCD9\uDD80-\uDDB5\uDDB8-\uDDC0\uDDD8-\uDDDD\uDE00-\uDE40\uDE44\uDE50-\uDE59\uDE80-\uDEB7\uDEC0-\uDEC9\uDF00-\uDF19\uDF1D-\uDF2B\uDF30-\uDF39]|\uD806[\uDCA0-\uDCE9\uDCFF\uDE00-\uDE3E\uDE47\uDE50-\uDE83\uDE86-\uDE99\uDEC0-\uDEF8]|\uD807[\uDC00-\uDC08\uDC0A-\uDC36\uDC38-\uDC40\uDC50-\uDC59\uDC72-\uDC8F\uDC92-\uDCA7\uDCA9-\uDCB6\uDD00-\uDD06\uDD08\uDD09\uDD0B-\uDD36\uDD3A\uDD3C\uDD3D\uDD3F-\uDD47\uDD50-\uDD59]|\uD808[\uDC00-\uDF99]|\uD809[\uDC00-\uDC6E\uDC80-\uDD43]|[\uD80C\uD81C-\uD820\uD840-\uD868\uD86A-\uD86C\uD86F-\uD872\uD874-\uD879][\uDC00-\uDFFF]|\uD80D[\uDC00-\uDC2E]|\uD811[\uDC00-\uDE46]|\uD81A[\uDC00-\uDE38\uDE40-\uDE5E\uDE60-\uDE69\uDED0-\uDEED\uDEF0-\uDEF4\uDF00-\uDF36\uDF40-\uDF43\uDF50-\uDF59\uDF63-\uDF77\uDF7D-\uDF8F]|\uD81B[\uDF00-\uDF44\uDF50-\uDF7E\uDF8F-\uDF9F\uDFE0\uDFE1]|\uD821[\uDC00-\uDFEC]|\uD822[\uDC00-\uDEF2]|\uD82C[\uDC00-\uDD1E\uDD70-\uDEFB]|\uD82F[\uDC00-\uDC6A\uDC70-\uDC7C\uDC80-\uDC88\uDC90-\uDC99\uDC9D\uDC9E]|\uD834[\uDD65-\uDD69\uDD6D-\uDD72\uDD7B-\uDD82\uDD85-\uDD8B\uDDAA-\uDDAD\uDE42-\uDE44]|\uD835[\uDC00-\uDC54\uDC56-\uDC9C\uDC9E\uDC9F\uDCA2\uDCA5\uDCA6\uDCA9-\uDCAC\uDCAE-\uDCB9\uDCBB\uDCBD-\uDCC3\uDCC5-\uDD05\uDD07-\uDD0A\uDD0D-\uDD14\uDD16-\uDD1C\uDD1E-\uDD39\uDD3B-\uDD3E\uDD40-\uDD44\uDD46\uDD4A-\uDD50\uDD52-\uDEA5\uDEA8-\uDEC0\uDEC2-\uDEDA\uDEDC-\uDEFA\uDEFC-\uDF14\uDF16-\uDF34\uDF36-\uDF4E\uDF50-\uDF6E\uDF70-\uDF88\uDF8A-\uDFA8\uDFAA-\uDFC2\uDFC4-\uDFCB\uDFCE-\uDFFF]|\uD836[\uDE00-\uDE36\uDE3B-\uDE6C\uDE75\uDE84\uDE9B-\uDE9F\uDEA1-\uDEAF]|\uD838[\uDC00-\uDC06\uDC08-\uDC18\uDC1B-\uDC21\uDC23\uDC24\uDC26-\uDC2A]|\uD83A[\uDC00-\uDCC4\uDCD0-\uDCD6\uDD00-\uDD4A\uDD50-\uDD59]|\uD83B[\uDE00-\uDE03\uDE05-\uDE1F\uDE21\uDE22\uDE24\uDE27\uDE29-\uDE32\uDE34-\uDE37\uDE39\uDE3B\uDE42\uDE47\uDE49\uDE4B\uDE4D-\uDE4F\uDE51\uDE52\uDE54\uDE57\uDE59\uDE5B\uDE5D\uDE5F\uDE61\uDE62\uDE64\uDE67-\uDE6A\uDE6C-\uDE72\uDE74-\uDE77\uDE79-\uDE7C\uDE7E\uDE80-\uDE89\uDE8B-\uDE9B\uDEA1-\uDEA3\uDEA5-\uDEA9\uDEAB-\uDEBB]|\uD869[\uDC00-\uDED6\uDF00-\uDFFF]|\uD86D[\uDC00-\uDF34\uDF40-\uDFFF]|\uD86E[\uDC00-\uDC1D\uDC20-\uDFFF]|\uD873[\uDC00-\uDEA1\uDEB0-\uDFFF]|\uD87A[\uDC00-\uDFE0]|\uD87E[\uDC00-\uDE1D]|\uDB40[\uDD00-\uDDEF]/;
      var unicode = {
        Space_Separator,
        ID_Start,
        ID_Continue
      };
      var util = {
        isSpaceSeparator: function isSpaceSeparator(c2) {
          return typeof c2 === "string" && unicode.Space_Separator.test(c2);
        },
        isIdStartChar: function isIdStartChar(c2) {
          return typeof c2 === "string" && (c2 >= "a" && c2 <= "z" || c2 >= "A" && c2 <= "Z" || c2 === "$" || c2 === "_" || unicode.ID_Start.test(c2));
        },
        isIdContinueChar: function isIdContinueChar(c2) {
          return typeof c2 === "string" && (c2 >= "a" && c2 <= "z" || c2 >= "A" && c2 <= "Z" || c2 >= "0" && c2 <= "9" || c2 === "$" || c2 === "_" || c2 === "‌" || c2 === "‍" || unicode.ID_Continue.test(c2));
        },
        isDigit: function isDigit(c2) {
          return typeof c2 === "string" && /[0-9]/.test(c2);
        },
        isHexDigit: function isHexDigit(c2) {
          return typeof c2 === "string" && /[0-9A-Fa-f]/.test(c2);
        }
      };
      var source;
      var parseState;
      var stack;
      var pos;
      var line;
      var column;
      var token;
      var key;
      var root;
      var parse = function parse2(text, reviver) {
        source = String(text);
        parseState = "start";
        stack = [];
        pos = 0;
        line = 1;
        column = 0;
        token = void 0;
        key = void 0;
        root = void 0;
        do {
          token = lex();
          parseStates[parseState]();
        } while (token.type !== "eof");
        if (typeof reviver === "function") {
          return internalize({ "": root }, "", reviver);
        }
        return root;
      };
      function internalize(holder, name, reviver) {
        var value = holder[name];
        if (value != null && typeof value === "object") {
          if (Array.isArray(value)) {
            for (var i = 0; i < value.length; i++) {
              var key2 = String(i);
              var replacement = internalize(value, key2, reviver);
              if (replacement === void 0) {
                delete value[key2];
              } else {
                Object.defineProperty(value, key2, {
                  value: replacement,
                  writable: true,
                  enumerable: true,
                  configurable: true
                });
              }
            }
          } else {
            for (var key$1 in value) {
              var replacement$1 = internalize(value, key$1, reviver);
              if (replacement$1 === void 0) {
                delete value[key$1];
              } else {
                Object.defineProperty(value, key$1, {
                  value: replacement$1,
                  writable: true,
                  enumerable: true,
                  configurable: true
                });
              }
            }
          }
        }
        return reviver.call(holder, name, value);
      }
      var lexState;
      var buffer;
      var doubleQuote;
      var sign;
      var c;
      function lex() {
        lexState = "default";
        buffer = "";
        doubleQuote = false;
        sign = 1;
        for (; ; ) {
          c = peek();
          var token2 = lexStates[lexState]();
          if (token2) {
            return token2;
          }
        }
      }
      function peek() {
        if (source[pos]) {
          return String.fromCodePoint(source.codePointAt(pos));
        }
      }
      function read() {
        var c2 = peek();
        if (c2 === "\n") {
          line++;
          column = 0;
        } else if (c2) {
          column += c2.length;
        } else {
          column++;
        }
        if (c2) {
          pos += c2.length;
        }
        return c2;
      }
      var lexStates = {
        default: function default$1() {
          switch (c) {
            case "	":
            case "\v":
            case "\f":
            case " ":
            case " ":
            case "\uFEFF":
            case "\n":
            case "\r":
            case "\u2028":
            case "\u2029":
              read();
              return;
            case "/":
              read();
              lexState = "comment";
              return;
            case void 0:
              read();
              return newToken("eof");
          }
          if (util.isSpaceSeparator(c)) {
            read();
            return;
          }
          return lexStates[parseState]();
        },
        comment: function comment() {
          switch (c) {
            case "*":
              read();
              lexState = "multiLineComment";
              return;
            case "/":
              read();
              lexState = "singleLineComment";
              return;
          }
          throw invalidChar(read());
        },
        multiLineComment: function multiLineComment() {
          switch (c) {
            case "*":
              read();
              lexState = "multiLineCommentAsterisk";
              return;
            case void 0:
              throw invalidChar(read());
          }
          read();
        },
        multiLineCommentAsterisk: function multiLineCommentAsterisk() {
          switch (c) {
            case "*":
              read();
              return;
            case "/":
              read();
              lexState = "default";
              return;
            case void 0:
              throw invalidChar(read());
          }
          read();
          lexState = "multiLineComment";
        },
        singleLineComment: function singleLineComment() {
          switch (c) {
            case "\n":
            case "\r":
            case "\u2028":
            case "\u2029":
              read();
              lexState = "default";
              return;
            case void 0:
              read();
              return newToken("eof");
          }
          read();
        },
        value: function value() {
          switch (c) {
            case "{":
            case "[":
              return newToken("punctuator", read());
            case "n":
              read();
              literal("ull");
              return newToken("null", null);
            case "t":
              read();
              literal("rue");
              return newToken("boolean", true);
            case "f":
              read();
              literal("alse");
              return newToken("boolean", false);
            case "-":
            case "+":
              if (read() === "-") {
                sign = -1;
              }
              lexState = "sign";
              return;
            case ".":
              buffer = read();
              lexState = "decimalPointLeading";
              return;
            case "0":
              buffer = read();
              lexState = "zero";
              return;
            case "1":
            case "2":
            case "3":
            case "4":
            case "5":
            case "6":
            case "7":
            case "8":
            case "9":
              buffer = read();
              lexState = "decimalInteger";
              return;
            case "I":
              read();
              literal("nfinity");
              return newToken("numeric", Infinity);
            case "N":
              read();
              literal("aN");
              return newToken("numeric", NaN);
            case '"':
            case "'":
              doubleQuote = read() === '"';
              buffer = "";
              lexState = "string";
              return;
          }
          throw invalidChar(read());
        },
        identifierNameStartEscape: function identifierNameStartEscape() {
          if (c !== "u") {
            throw invalidChar(read());
          }
          read();
          var u = unicodeEscape();
          switch (u) {
            case "$":
            case "_":
              break;
            default:
              if (!util.isIdStartChar(u)) {
                throw invalidIdentifier();
              }
              break;
          }
          buffer += u;
          lexState = "identifierName";
        },
        identifierName: function identifierName() {
          switch (c) {
            case "$":
            case "_":
            case "‌":
            case "‍":
              buffer += read();
              return;
            case "\\":
              read();
              lexState = "identifierNameEscape";
              return;
          }
          if (util.isIdContinueChar(c)) {
            buffer += read();
            return;
          }
          return newToken("identifier", buffer);
        },
        identifierNameEscape: function identifierNameEscape() {
          if (c !== "u") {
            throw invalidChar(read());
          }
          read();
          var u = unicodeEscape();
          switch (u) {
            case "$":
            case "_":
            case "‌":
            case "‍":
              break;
            default:
              if (!util.isIdContinueChar(u)) {
                throw invalidIdentifier();
              }
              break;
          }
          buffer += u;
          lexState = "identifierName";
        },
        sign: function sign$1() {
          switch (c) {
            case ".":
              buffer = read();
              lexState = "decimalPointLeading";
              return;
            case "0":
              buffer = read();
              lexState = "zero";
              return;
            case "1":
            case "2":
            case "3":
            case "4":
            case "5":
            case "6":
            case "7":
            case "8":
            case "9":
              buffer = read();
              lexState = "decimalInteger";
              return;
            case "I":
              read();
              literal("nfinity");
              return newToken("numeric", sign * Infinity);
            case "N":
              read();
              literal("aN");
              return newToken("numeric", NaN);
          }
          throw invalidChar(read());
        },
        zero: function zero() {
          switch (c) {
            case ".":
              buffer += read();
              lexState = "decimalPoint";
              return;
            case "e":
            case "E":
              buffer += read();
              lexState = "decimalExponent";
              return;
            case "x":
            case "X":
              buffer += read();
              lexState = "hexadecimal";
              return;
          }
          return newToken("numeric", sign * 0);
        },
        decimalInteger: function decimalInteger() {
          switch (c) {
            case ".":
              buffer += read();
              lexState = "decimalPoint";
              return;
            case "e":
            case "E":
              buffer += read();
              lexState = "decimalExponent";
              return;
          }
          if (util.isDigit(c)) {
            buffer += read();
            return;
          }
          return newToken("numeric", sign * Number(buffer));
        },
        decimalPointLeading: function decimalPointLeading() {
          if (util.isDigit(c)) {
            buffer += read();
            lexState = "decimalFraction";
            return;
          }
          throw invalidChar(read());
        },
        decimalPoint: function decimalPoint() {
          switch (c) {
            case "e":
            case "E":
              buffer += read();
              lexState = "decimalExponent";
              return;
          }
          if (util.isDigit(c)) {
            buffer += read();
            lexState = "decimalFraction";
            return;
          }
          return newToken("numeric", sign * Number(buffer));
        },
        decimalFraction: function decimalFraction() {
          switch (c) {
            case "e":
            case "E":
              buffer += read();
              lexState = "decimalExponent";
              return;
          }
          if (util.isDigit(c)) {
            buffer += read();
            return;
          }
          return newToken("numeric", sign * Number(buffer));
        },
        decimalExponent: function decimalExponent() {
          switch (c) {
            case "+":
            case "-":
              buffer += read();
              lexState = "decimalExponentSign";
              return;
          }
          if (util.isDigit(c)) {
            buffer += read();
            lexState = "decimalExponentInteger";
            return;
          }
          throw invalidChar(read());
        },
        decimalExponentSign: function decimalExponentSign() {
          if (util.isDigit(c)) {
            buffer += read();
            lexState = "decimalExponentInteger";
            return;
          }
          throw invalidChar(read());
        },
        decimalExponentInteger: function decimalExponentInteger() {
          if (util.isDigit(c)) {
            buffer += read();
            return;
          }
          return newToken("numeric", sign * Number(buffer));
        },
        hexadecimal: function hexadecimal() {
          if (util.isHexDigit(c)) {
            buffer += read();
            lexState = "hexadecimalInteger";
            return;
          }
          throw invalidChar(read());
        },
        hexadecimalInteger: function hexadecimalInteger() {
          if (util.isHexDigit(c)) {
            buffer += read();
            return;
          }
          return newToken("numeric", sign * Number(buffer));
        },
        string: function string() {
          switch (c) {
            case "\\":
              read();
              buffer += escape();
              return;
            case '"':
              if (doubleQuote) {
                read();
                return newToken("string", buffer);
              }
              buffer += read();
              return;
            case "'":
              if (!doubleQuote) {
                read();
                return newToken("string", buffer);
              }
              buffer += read();
              return;
            case "\n":
            case "\r":
              throw invalidChar(read());
            case "\u2028":
            case "\u2029":
              separatorChar(c);
              break;
            case void 0:
              throw invalidChar(read());
          }
          buffer += read();
        },
        start: function start2() {
          switch (c) {
            case "{":
            case "[":
              return newToken("punctuator", read());
          }
          lexState = "value";
        },
        beforePropertyName: function beforePropertyName() {
          switch (c) {
            case "$":
            case "_":
              buffer = read();
              lexState = "identifierName";
              return;
            case "\\":
              read();
              lexState = "identifierNameStartEscape";
              return;
            case "}":
              return newToken("punctuator", read());
            case '"':
            case "'":
              doubleQuote = read() === '"';
              lexState = "string";
              return;
          }
          if (util.isIdStartChar(c)) {
            buffer += read();
            lexState = "identifierName";
            return;
          }
          throw invalidChar(read());
        },
        afterPropertyName: function afterPropertyName() {
          if (c === ":") {
            return newToken("punctuator", read());
          }
          throw invalidChar(read());
        },
        beforePropertyValue: function beforePropertyValue() {
          lexState = "value";
        },
        afterPropertyValue: function afterPropertyValue() {
          switch (c) {
            case ",":
            case "}":
              return newToken("punctuator", read());
          }
          throw invalidChar(read());
        },
        beforeArrayValue: function beforeArrayValue() {
          if (c === "]") {
            return newToken("punctuator", read());
          }
          lexState = "value";
        },
        afterArrayValue: function afterArrayValue() {
          switch (c) {
            case ",":
            case "]":
              return newToken("punctuator", read());
          }
          throw invalidChar(read());
        },
        end: function end() {
          throw invalidChar(read());
        }
      };
      function newToken(type, value) {
        return {
          type,
          value,
          line,
          column
        };
      }
      function literal(s) {
        for (var i = 0, list = s; i < list.length; i += 1) {
          var c2 = list[i];
          var p = peek();
          if (p !== c2) {
            throw invalidChar(read());
          }
          read();
        }
      }
      function escape() {
        var c2 = peek();
        switch (c2) {
          case "b":
            read();
            return "\b";
          case "f":
            read();
            return "\f";
          case "n":
            read();
            return "\n";
          case "r":
            read();
            return "\r";
          case "t":
            read();
            return "	";
          case "v":
            read();
            return "\v";
          case "0":
            read();
            if (util.isDigit(peek())) {
              throw invalidChar(read());
            }
            return "\0";
          case "x":
            read();
            return hexEscape();
          case "u":
            read();
            return unicodeEscape();
          case "\n":
          case "\u2028":
          case "\u2029":
            read();
            return "";
          case "\r":
            read();
            if (peek() === "\n") {
              read();
            }
            return "";
          case "1":
          case "2":
          case "3":
          case "4":
          case "5":
          case "6":
          case "7":
          case "8":
          case "9":
            throw invalidChar(read());
          case void 0:
            throw invalidChar(read());
        }
        return read();
      }
      function hexEscape() {
        var buffer2 = "";
        var c2 = peek();
        if (!util.isHexDigit(c2)) {
          throw invalidChar(read());
        }
        buffer2 += read();
        c2 = peek();
        if (!util.isHexDigit(c2)) {
          throw invalidChar(read());
        }
        buffer2 += read();
        return String.fromCodePoint(parseInt(buffer2, 16));
      }
      function unicodeEscape() {
        var buffer2 = "";
        var count = 4;
        while (count-- > 0) {
          var c2 = peek();
          if (!util.isHexDigit(c2)) {
            throw invalidChar(read());
          }
          buffer2 += read();
        }
        return String.fromCodePoint(parseInt(buffer2, 16));
      }
      var parseStates = {
        start: function start2() {
          if (token.type === "eof") {
            throw invalidEOF();
          }
          push();
        },
        beforePropertyName: function beforePropertyName() {
          switch (token.type) {
            case "identifier":
            case "string":
              key = token.value;
              parseState = "afterPropertyName";
              return;
            case "punctuator":
              pop();
              return;
            case "eof":
              throw invalidEOF();
          }
        },
        afterPropertyName: function afterPropertyName() {
          if (token.type === "eof") {
            throw invalidEOF();
          }
          parseState = "beforePropertyValue";
        },
        beforePropertyValue: function beforePropertyValue() {
          if (token.type === "eof") {
            throw invalidEOF();
          }
          push();
        },
        beforeArrayValue: function beforeArrayValue() {
          if (token.type === "eof") {
            throw invalidEOF();
          }
          if (token.type === "punctuator" && token.value === "]") {
            pop();
            return;
          }
          push();
        },
        afterPropertyValue: function afterPropertyValue() {
          if (token.type === "eof") {
            throw invalidEOF();
          }
          switch (token.value) {
            case ",":
              parseState = "beforePropertyName";
              return;
            case "}":
              pop();
          }
        },
        afterArrayValue: function afterArrayValue() {
          if (token.type === "eof") {
            throw invalidEOF();
          }
          switch (token.value) {
            case ",":
              parseState = "beforeArrayValue";
              return;
            case "]":
              pop();
          }
        },
        end: function end() {
        }
      };
      function push() {
        var value;
        switch (token.type) {
          case "punctuator":
            switch (token.value) {
              case "{":
                value = {};
                break;
              case "[":
                value = [];
                break;
            }
            break;
          case "null":
          case "boolean":
          case "numeric":
          case "string":
            value = token.value;
            break;
        }
        if (root === void 0) {
          root = value;
        } else {
          var parent = stack[stack.length - 1];
          if (Array.isArray(parent)) {
            parent.push(value);
          } else {
            Object.defineProperty(parent, key, {
              value,
              writable: true,
              enumerable: true,
              configurable: true
            });
          }
        }
        if (value !== null && typeof value === "object") {
          stack.push(value);
          if (Array.isArray(value)) {
            parseState = "beforeArrayValue";
          } else {
            parseState = "beforePropertyName";
          }
        } else {
          var current = stack[stack.length - 1];
          if (current == null) {
            parseState = "end";
          } else if (Array.isArray(current)) {
            parseState = "afterArrayValue";
          } else {
            parseState = "afterPropertyValue";
          }
        }
      }
      function pop() {
        stack.pop();
        var current = stack[stack.length - 1];
        if (current == null) {
          parseState = "end";
        } else if (Array.isArray(current)) {
          parseState = "afterArrayValue";
        } else {
          parseState = "afterPropertyValue";
        }
      }
      function invalidChar(c2) {
        if (c2 === void 0) {
          return syntaxError("JSON5: invalid end of input at " + line + ":" + column);
        }
        return syntaxError("JSON5: invalid character '" + formatChar(c2) + "' at " + line + ":" + column);
      }
      function invalidEOF() {
        return syntaxError("JSON5: invalid end of input at " + line + ":" + column);
      }
      function invalidIdentifier() {
        column -= 5;
        return syntaxError("JSON5: invalid identifier character at " + line + ":" + column);
      }
      function separatorChar(c2) {
        console.warn("JSON5: '" + formatChar(c2) + "' in strings is not valid ECMAScript; consider escaping");
      }
      function formatChar(c2) {
        var replacements = {
          "'": "\\'",
          '"': '\\"',
          "\\": "\\\\",
          "\b": "\\b",
          "\f": "\\f",
          "\n": "\\n",
          "\r": "\\r",
          "	": "\\t",
          "\v": "\\v",
          "\0": "\\0",
          "\u2028": "\\u2028",
          "\u2029": "\\u2029"
        };
        if (replacements[c2]) {
          return replacements[c2];
        }
        if (c2 < " ") {
          var hexString = c2.charCodeAt(0).toString(16);
          return "\\x" + ("00" + hexString).substring(hexString.length);
        }
        return c2;
      }
      function syntaxError(message) {
        var err = new SyntaxError(message);
        err.lineNumber = line;
        err.columnNumber = column;
        return err;
      }
      var stringify = function stringify2(value, replacer, space) {
        var stack2 = [];
        var indent = "";
        var propertyList;
        var replacerFunc;
        var gap = "";
        var quote;
        if (replacer != null && typeof replacer === "object" && !Array.isArray(replacer)) {
          space = replacer.space;
          quote = replacer.quote;
          replacer = replacer.replacer;
        }
        if (typeof replacer === "function") {
          replacerFunc = replacer;
        } else if (Array.isArray(replacer)) {
          propertyList = [];
          for (var i = 0, list = replacer; i < list.length; i += 1) {
            var v = list[i];
            var item = void 0;
            if (typeof v === "string") {
              item = v;
            } else if (typeof v === "number" || v instanceof String || v instanceof Number) {
              item = String(v);
            }
            if (item !== void 0 && propertyList.indexOf(item) < 0) {
              propertyList.push(item);
            }
          }
        }
        if (space instanceof Number) {
          space = Number(space);
        } else if (space instanceof String) {
          space = String(space);
        }
        if (typeof space === "number") {
          if (space > 0) {
            space = Math.min(10, Math.floor(space));
            gap = "          ".substr(0, space);
          }
        } else if (typeof space === "string") {
          gap = space.substr(0, 10);
        }
        return serializeProperty("", { "": value });
        function serializeProperty(key2, holder) {
          var value2 = holder[key2];
          if (value2 != null) {
            if (typeof value2.toJSON5 === "function") {
              value2 = value2.toJSON5(key2);
            } else if (typeof value2.toJSON === "function") {
              value2 = value2.toJSON(key2);
            }
          }
          if (replacerFunc) {
            value2 = replacerFunc.call(holder, key2, value2);
          }
          if (value2 instanceof Number) {
            value2 = Number(value2);
          } else if (value2 instanceof String) {
            value2 = String(value2);
          } else if (value2 instanceof Boolean) {
            value2 = value2.valueOf();
          }
          switch (value2) {
            case null:
              return "null";
            case true:
              return "true";
            case false:
              return "false";
          }
          if (typeof value2 === "string") {
            return quoteString(value2, false);
          }
          if (typeof value2 === "number") {
            return String(value2);
          }
          if (typeof value2 === "object") {
            return Array.isArray(value2) ? serializeArray(value2) : serializeObject(value2);
          }
          return void 0;
        }
        function quoteString(value2) {
          var quotes = {
            "'": 0.1,
            '"': 0.2
          };
          var replacements = {
            "'": "\\'",
            '"': '\\"',
            "\\": "\\\\",
            "\b": "\\b",
            "\f": "\\f",
            "\n": "\\n",
            "\r": "\\r",
            "	": "\\t",
            "\v": "\\v",
            "\0": "\\0",
            "\u2028": "\\u2028",
            "\u2029": "\\u2029"
          };
          var product = "";
          for (var i2 = 0; i2 < value2.length; i2++) {
            var c2 = value2[i2];
            switch (c2) {
              case "'":
              case '"':
                quotes[c2]++;
                product += c2;
                continue;
              case "\0":
                if (util.isDigit(value2[i2 + 1])) {
                  product += "\\x00";
                  continue;
                }
            }
            if (replacements[c2]) {
              product += replacements[c2];
              continue;
            }
            if (c2 < " ") {
              var hexString = c2.charCodeAt(0).toString(16);
              product += "\\x" + ("00" + hexString).substring(hexString.length);
              continue;
            }
            product += c2;
          }
          var quoteChar = quote || Object.keys(quotes).reduce(function(a, b) {
            return quotes[a] < quotes[b] ? a : b;
          });
          product = product.replace(new RegExp(quoteChar, "g"), replacements[quoteChar]);
          return quoteChar + product + quoteChar;
        }
        function serializeObject(value2) {
          if (stack2.indexOf(value2) >= 0) {
            throw TypeError("Converting circular structure to JSON5");
          }
          stack2.push(value2);
          var stepback = indent;
          indent = indent + gap;
          var keys = propertyList || Object.keys(value2);
          var partial = [];
          for (var i2 = 0, list2 = keys; i2 < list2.length; i2 += 1) {
            var key2 = list2[i2];
            var propertyString = serializeProperty(key2, value2);
            if (propertyString !== void 0) {
              var member = serializeKey(key2) + ":";
              if (gap !== "") {
                member += " ";
              }
              member += propertyString;
              partial.push(member);
            }
          }
          var final;
          if (partial.length === 0) {
            final = "{}";
          } else {
            var properties;
            if (gap === "") {
              properties = partial.join(",");
              final = "{" + properties + "}";
            } else {
              var separator = ",\n" + indent;
              properties = partial.join(separator);
              final = "{\n" + indent + properties + ",\n" + stepback + "}";
            }
          }
          stack2.pop();
          indent = stepback;
          return final;
        }
        function serializeKey(key2) {
          if (key2.length === 0) {
            return quoteString(key2, true);
          }
          var firstChar = String.fromCodePoint(key2.codePointAt(0));
          if (!util.isIdStartChar(firstChar)) {
            return quoteString(key2, true);
          }
          for (var i2 = firstChar.length; i2 < key2.length; i2++) {
            if (!util.isIdContinueChar(String.fromCodePoint(key2.codePointAt(i2)))) {
              return quoteString(key2, true);
            }
          }
          return key2;
        }
        function serializeArray(value2) {
          if (stack2.indexOf(value2) >= 0) {
            throw TypeError("Converting circular structure to JSON5");
          }
          stack2.push(value2);
          var stepback = indent;
          indent = indent + gap;
          var partial = [];
          for (var i2 = 0; i2 < value2.length; i2++) {
            var propertyString = serializeProperty(String(i2), value2);
            partial.push(propertyString !== void 0 ? propertyString : "null");
          }
          var final;
          if (partial.length === 0) {
            final = "[]";
          } else {
            if (gap === "") {
              var properties = partial.join(",");
              final = "[" + properties + "]";
            } else {
              var separator = ",\n" + indent;
              var properties$1 = partial.join(separator);
              final = "[\n" + indent + properties$1 + ",\n" + stepback + "]";
            }
          }
          stack2.pop();
          indent = stepback;
          return final;
        }
      };
      var JSON52 = {
        parse,
        stringify
      };
      var lib = JSON52;
      var es5 = lib;
      return es5;
    }));
  }
});

// node_modules/@msgpack/msgpack/dist.esm/utils/utf8.mjs
function utf8Count(str) {
  const strLength = str.length;
  let byteLength = 0;
  let pos = 0;
  while (pos < strLength) {
    let value = str.charCodeAt(pos++);
    if ((value & 4294967168) === 0) {
      byteLength++;
      continue;
    } else if ((value & 4294965248) === 0) {
      byteLength += 2;
    } else {
      if (value >= 55296 && value <= 56319) {
        if (pos < strLength) {
          const extra = str.charCodeAt(pos);
          if ((extra & 64512) === 56320) {
            ++pos;
            value = ((value & 1023) << 10) + (extra & 1023) + 65536;
          }
        }
      }
      if ((value & 4294901760) === 0) {
        byteLength += 3;
      } else {
        byteLength += 4;
      }
    }
  }
  return byteLength;
}
function utf8EncodeJs(str, output, outputOffset) {
  const strLength = str.length;
  let offset = outputOffset;
  let pos = 0;
  while (pos < strLength) {
    let value = str.charCodeAt(pos++);
    if ((value & 4294967168) === 0) {
      output[offset++] = value;
      continue;
    } else if ((value & 4294965248) === 0) {
      output[offset++] = value >> 6 & 31 | 192;
    } else {
      if (value >= 55296 && value <= 56319) {
        if (pos < strLength) {
          const extra = str.charCodeAt(pos);
          if ((extra & 64512) === 56320) {
            ++pos;
            value = ((value & 1023) << 10) + (extra & 1023) + 65536;
          }
        }
      }
      if ((value & 4294901760) === 0) {
        output[offset++] = value >> 12 & 15 | 224;
        output[offset++] = value >> 6 & 63 | 128;
      } else {
        output[offset++] = value >> 18 & 7 | 240;
        output[offset++] = value >> 12 & 63 | 128;
        output[offset++] = value >> 6 & 63 | 128;
      }
    }
    output[offset++] = value & 63 | 128;
  }
}
var sharedTextEncoder = new TextEncoder();
var TEXT_ENCODER_THRESHOLD = 50;
function utf8EncodeTE(str, output, outputOffset) {
  sharedTextEncoder.encodeInto(str, output.subarray(outputOffset));
}
function utf8Encode(str, output, outputOffset) {
  if (str.length > TEXT_ENCODER_THRESHOLD) {
    utf8EncodeTE(str, output, outputOffset);
  } else {
    utf8EncodeJs(str, output, outputOffset);
  }
}
var CHUNK_SIZE = 4096;
function utf8DecodeJs(bytes, inputOffset, byteLength) {
  let offset = inputOffset;
  const end = offset + byteLength;
  const units = [];
  let result = "";
  while (offset < end) {
    const byte1 = bytes[offset++];
    if ((byte1 & 128) === 0) {
      units.push(byte1);
    } else if ((byte1 & 224) === 192) {
      const byte2 = bytes[offset++] & 63;
      units.push((byte1 & 31) << 6 | byte2);
    } else if ((byte1 & 240) === 224) {
      const byte2 = bytes[offset++] & 63;
      const byte3 = bytes[offset++] & 63;
      units.push((byte1 & 31) << 12 | byte2 << 6 | byte3);
    } else if ((byte1 & 248) === 240) {
      const byte2 = bytes[offset++] & 63;
      const byte3 = bytes[offset++] & 63;
      const byte4 = bytes[offset++] & 63;
      let unit = (byte1 & 7) << 18 | byte2 << 12 | byte3 << 6 | byte4;
      if (unit > 65535) {
        unit -= 65536;
        units.push(unit >>> 10 & 1023 | 55296);
        unit = 56320 | unit & 1023;
      }
      units.push(unit);
    } else {
      units.push(byte1);
    }
    if (units.length >= CHUNK_SIZE) {
      result += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  if (units.length > 0) {
    result += String.fromCharCode(...units);
  }
  return result;
}
var sharedTextDecoder = new TextDecoder();
var TEXT_DECODER_THRESHOLD = 200;
function utf8DecodeTD(bytes, inputOffset, byteLength) {
  const stringBytes = bytes.subarray(inputOffset, inputOffset + byteLength);
  return sharedTextDecoder.decode(stringBytes);
}
function utf8Decode(bytes, inputOffset, byteLength) {
  if (byteLength > TEXT_DECODER_THRESHOLD) {
    return utf8DecodeTD(bytes, inputOffset, byteLength);
  } else {
    return utf8DecodeJs(bytes, inputOffset, byteLength);
  }
}

// node_modules/@msgpack/msgpack/dist.esm/ExtData.mjs
var ExtData = class {
  type;
  data;
  constructor(type, data) {
    this.type = type;
    this.data = data;
  }
};

// node_modules/@msgpack/msgpack/dist.esm/DecodeError.mjs
var DecodeError = class _DecodeError extends Error {
  constructor(message) {
    super(message);
    const proto = Object.create(_DecodeError.prototype);
    Object.setPrototypeOf(this, proto);
    Object.defineProperty(this, "name", {
      configurable: true,
      enumerable: false,
      value: _DecodeError.name
    });
  }
};

// node_modules/@msgpack/msgpack/dist.esm/utils/int.mjs
var UINT32_MAX = 4294967295;
function setUint64(view, offset, value) {
  const high = value / 4294967296;
  const low = value;
  view.setUint32(offset, high);
  view.setUint32(offset + 4, low);
}
function setInt64(view, offset, value) {
  const high = Math.floor(value / 4294967296);
  const low = value;
  view.setUint32(offset, high);
  view.setUint32(offset + 4, low);
}
function getInt64(view, offset) {
  const high = view.getInt32(offset);
  const low = view.getUint32(offset + 4);
  return high * 4294967296 + low;
}
function getUint64(view, offset) {
  const high = view.getUint32(offset);
  const low = view.getUint32(offset + 4);
  return high * 4294967296 + low;
}

// node_modules/@msgpack/msgpack/dist.esm/timestamp.mjs
var EXT_TIMESTAMP = -1;
var TIMESTAMP32_MAX_SEC = 4294967296 - 1;
var TIMESTAMP64_MAX_SEC = 17179869184 - 1;
function encodeTimeSpecToTimestamp({ sec, nsec }) {
  if (sec >= 0 && nsec >= 0 && sec <= TIMESTAMP64_MAX_SEC) {
    if (nsec === 0 && sec <= TIMESTAMP32_MAX_SEC) {
      const rv = new Uint8Array(4);
      const view = new DataView(rv.buffer);
      view.setUint32(0, sec);
      return rv;
    } else {
      const secHigh = sec / 4294967296;
      const secLow = sec & 4294967295;
      const rv = new Uint8Array(8);
      const view = new DataView(rv.buffer);
      view.setUint32(0, nsec << 2 | secHigh & 3);
      view.setUint32(4, secLow);
      return rv;
    }
  } else {
    const rv = new Uint8Array(12);
    const view = new DataView(rv.buffer);
    view.setUint32(0, nsec);
    setInt64(view, 4, sec);
    return rv;
  }
}
function encodeDateToTimeSpec(date) {
  const msec = date.getTime();
  const sec = Math.floor(msec / 1e3);
  const nsec = (msec - sec * 1e3) * 1e6;
  const nsecInSec = Math.floor(nsec / 1e9);
  return {
    sec: sec + nsecInSec,
    nsec: nsec - nsecInSec * 1e9
  };
}
function encodeTimestampExtension(object) {
  if (object instanceof Date) {
    const timeSpec = encodeDateToTimeSpec(object);
    return encodeTimeSpecToTimestamp(timeSpec);
  } else {
    return null;
  }
}
function decodeTimestampToTimeSpec(data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (data.byteLength) {
    case 4: {
      const sec = view.getUint32(0);
      const nsec = 0;
      return { sec, nsec };
    }
    case 8: {
      const nsec30AndSecHigh2 = view.getUint32(0);
      const secLow32 = view.getUint32(4);
      const sec = (nsec30AndSecHigh2 & 3) * 4294967296 + secLow32;
      const nsec = nsec30AndSecHigh2 >>> 2;
      return { sec, nsec };
    }
    case 12: {
      const sec = getInt64(view, 4);
      const nsec = view.getUint32(0);
      return { sec, nsec };
    }
    default:
      throw new DecodeError(`Unrecognized data size for timestamp (expected 4, 8, or 12): ${data.length}`);
  }
}
function decodeTimestampExtension(data) {
  const timeSpec = decodeTimestampToTimeSpec(data);
  return new Date(timeSpec.sec * 1e3 + timeSpec.nsec / 1e6);
}
var timestampExtension = {
  type: EXT_TIMESTAMP,
  encode: encodeTimestampExtension,
  decode: decodeTimestampExtension
};

// node_modules/@msgpack/msgpack/dist.esm/ExtensionCodec.mjs
var ExtensionCodec = class _ExtensionCodec {
  static defaultCodec = new _ExtensionCodec();
  // ensures ExtensionCodecType<X> matches ExtensionCodec<X>
  // this will make type errors a lot more clear
  // eslint-disable-next-line @typescript-eslint/naming-convention
  __brand;
  // built-in extensions
  builtInEncoders = [];
  builtInDecoders = [];
  // custom extensions
  encoders = [];
  decoders = [];
  constructor() {
    this.register(timestampExtension);
  }
  register({ type, encode: encode3, decode: decode3 }) {
    if (type >= 0) {
      this.encoders[type] = encode3;
      this.decoders[type] = decode3;
    } else {
      const index = -1 - type;
      this.builtInEncoders[index] = encode3;
      this.builtInDecoders[index] = decode3;
    }
  }
  tryToEncode(object, context) {
    for (let i = 0; i < this.builtInEncoders.length; i++) {
      const encodeExt = this.builtInEncoders[i];
      if (encodeExt != null) {
        const data = encodeExt(object, context);
        if (data != null) {
          const type = -1 - i;
          return new ExtData(type, data);
        }
      }
    }
    for (let i = 0; i < this.encoders.length; i++) {
      const encodeExt = this.encoders[i];
      if (encodeExt != null) {
        const data = encodeExt(object, context);
        if (data != null) {
          const type = i;
          return new ExtData(type, data);
        }
      }
    }
    if (object instanceof ExtData) {
      return object;
    }
    return null;
  }
  decode(data, type, context) {
    const decodeExt = type < 0 ? this.builtInDecoders[-1 - type] : this.decoders[type];
    if (decodeExt) {
      return decodeExt(data, type, context);
    } else {
      return new ExtData(type, data);
    }
  }
};

// node_modules/@msgpack/msgpack/dist.esm/utils/typedArrays.mjs
function isArrayBufferLike(buffer) {
  return buffer instanceof ArrayBuffer || typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer;
}
function ensureUint8Array(buffer) {
  if (buffer instanceof Uint8Array) {
    return buffer;
  } else if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } else if (isArrayBufferLike(buffer)) {
    return new Uint8Array(buffer);
  } else {
    return Uint8Array.from(buffer);
  }
}

// node_modules/@msgpack/msgpack/dist.esm/Encoder.mjs
var DEFAULT_MAX_DEPTH = 100;
var DEFAULT_INITIAL_BUFFER_SIZE = 2048;
var Encoder = class _Encoder {
  extensionCodec;
  context;
  useBigInt64;
  maxDepth;
  initialBufferSize;
  sortKeys;
  forceFloat32;
  ignoreUndefined;
  forceIntegerToFloat;
  pos;
  view;
  bytes;
  entered = false;
  constructor(options) {
    this.extensionCodec = options?.extensionCodec ?? ExtensionCodec.defaultCodec;
    this.context = options?.context;
    this.useBigInt64 = options?.useBigInt64 ?? false;
    this.maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.initialBufferSize = options?.initialBufferSize ?? DEFAULT_INITIAL_BUFFER_SIZE;
    this.sortKeys = options?.sortKeys ?? false;
    this.forceFloat32 = options?.forceFloat32 ?? false;
    this.ignoreUndefined = options?.ignoreUndefined ?? false;
    this.forceIntegerToFloat = options?.forceIntegerToFloat ?? false;
    this.pos = 0;
    this.view = new DataView(new ArrayBuffer(this.initialBufferSize));
    this.bytes = new Uint8Array(this.view.buffer);
  }
  clone() {
    return new _Encoder({
      extensionCodec: this.extensionCodec,
      context: this.context,
      useBigInt64: this.useBigInt64,
      maxDepth: this.maxDepth,
      initialBufferSize: this.initialBufferSize,
      sortKeys: this.sortKeys,
      forceFloat32: this.forceFloat32,
      ignoreUndefined: this.ignoreUndefined,
      forceIntegerToFloat: this.forceIntegerToFloat
    });
  }
  reinitializeState() {
    this.pos = 0;
  }
  /**
   * This is almost equivalent to {@link Encoder#encode}, but it returns an reference of the encoder's internal buffer and thus much faster than {@link Encoder#encode}.
   *
   * @returns Encodes the object and returns a shared reference the encoder's internal buffer.
   */
  encodeSharedRef(object) {
    if (this.entered) {
      const instance = this.clone();
      return instance.encodeSharedRef(object);
    }
    try {
      this.entered = true;
      this.reinitializeState();
      this.doEncode(object, 1);
      return this.bytes.subarray(0, this.pos);
    } finally {
      this.entered = false;
    }
  }
  /**
   * @returns Encodes the object and returns a copy of the encoder's internal buffer.
   */
  encode(object) {
    if (this.entered) {
      const instance = this.clone();
      return instance.encode(object);
    }
    try {
      this.entered = true;
      this.reinitializeState();
      this.doEncode(object, 1);
      return this.bytes.slice(0, this.pos);
    } finally {
      this.entered = false;
    }
  }
  doEncode(object, depth) {
    if (depth > this.maxDepth) {
      throw new Error(`Too deep objects in depth ${depth}`);
    }
    if (object == null) {
      this.encodeNil();
    } else if (typeof object === "boolean") {
      this.encodeBoolean(object);
    } else if (typeof object === "number") {
      if (!this.forceIntegerToFloat) {
        this.encodeNumber(object);
      } else {
        this.encodeNumberAsFloat(object);
      }
    } else if (typeof object === "string") {
      this.encodeString(object);
    } else if (this.useBigInt64 && typeof object === "bigint") {
      this.encodeBigInt64(object);
    } else {
      this.encodeObject(object, depth);
    }
  }
  ensureBufferSizeToWrite(sizeToWrite) {
    const requiredSize = this.pos + sizeToWrite;
    if (this.view.byteLength < requiredSize) {
      this.resizeBuffer(requiredSize * 2);
    }
  }
  resizeBuffer(newSize) {
    const newBuffer = new ArrayBuffer(newSize);
    const newBytes = new Uint8Array(newBuffer);
    const newView = new DataView(newBuffer);
    newBytes.set(this.bytes);
    this.view = newView;
    this.bytes = newBytes;
  }
  encodeNil() {
    this.writeU8(192);
  }
  encodeBoolean(object) {
    if (object === false) {
      this.writeU8(194);
    } else {
      this.writeU8(195);
    }
  }
  encodeNumber(object) {
    if (!this.forceIntegerToFloat && Number.isSafeInteger(object)) {
      if (object >= 0) {
        if (object < 128) {
          this.writeU8(object);
        } else if (object < 256) {
          this.writeU8(204);
          this.writeU8(object);
        } else if (object < 65536) {
          this.writeU8(205);
          this.writeU16(object);
        } else if (object < 4294967296) {
          this.writeU8(206);
          this.writeU32(object);
        } else if (!this.useBigInt64) {
          this.writeU8(207);
          this.writeU64(object);
        } else {
          this.encodeNumberAsFloat(object);
        }
      } else {
        if (object >= -32) {
          this.writeU8(224 | object + 32);
        } else if (object >= -128) {
          this.writeU8(208);
          this.writeI8(object);
        } else if (object >= -32768) {
          this.writeU8(209);
          this.writeI16(object);
        } else if (object >= -2147483648) {
          this.writeU8(210);
          this.writeI32(object);
        } else if (!this.useBigInt64) {
          this.writeU8(211);
          this.writeI64(object);
        } else {
          this.encodeNumberAsFloat(object);
        }
      }
    } else {
      this.encodeNumberAsFloat(object);
    }
  }
  encodeNumberAsFloat(object) {
    if (this.forceFloat32) {
      this.writeU8(202);
      this.writeF32(object);
    } else {
      this.writeU8(203);
      this.writeF64(object);
    }
  }
  encodeBigInt64(object) {
    if (object >= BigInt(0)) {
      this.writeU8(207);
      this.writeBigUint64(object);
    } else {
      this.writeU8(211);
      this.writeBigInt64(object);
    }
  }
  writeStringHeader(byteLength) {
    if (byteLength < 32) {
      this.writeU8(160 + byteLength);
    } else if (byteLength < 256) {
      this.writeU8(217);
      this.writeU8(byteLength);
    } else if (byteLength < 65536) {
      this.writeU8(218);
      this.writeU16(byteLength);
    } else if (byteLength < 4294967296) {
      this.writeU8(219);
      this.writeU32(byteLength);
    } else {
      throw new Error(`Too long string: ${byteLength} bytes in UTF-8`);
    }
  }
  encodeString(object) {
    const maxHeaderSize = 1 + 4;
    const byteLength = utf8Count(object);
    this.ensureBufferSizeToWrite(maxHeaderSize + byteLength);
    this.writeStringHeader(byteLength);
    utf8Encode(object, this.bytes, this.pos);
    this.pos += byteLength;
  }
  encodeObject(object, depth) {
    const ext = this.extensionCodec.tryToEncode(object, this.context);
    if (ext != null) {
      this.encodeExtension(ext);
    } else if (Array.isArray(object)) {
      this.encodeArray(object, depth);
    } else if (ArrayBuffer.isView(object)) {
      this.encodeBinary(object);
    } else if (typeof object === "object") {
      this.encodeMap(object, depth);
    } else {
      throw new Error(`Unrecognized object: ${Object.prototype.toString.apply(object)}`);
    }
  }
  encodeBinary(object) {
    const size = object.byteLength;
    if (size < 256) {
      this.writeU8(196);
      this.writeU8(size);
    } else if (size < 65536) {
      this.writeU8(197);
      this.writeU16(size);
    } else if (size < 4294967296) {
      this.writeU8(198);
      this.writeU32(size);
    } else {
      throw new Error(`Too large binary: ${size}`);
    }
    const bytes = ensureUint8Array(object);
    this.writeU8a(bytes);
  }
  encodeArray(object, depth) {
    const size = object.length;
    if (size < 16) {
      this.writeU8(144 + size);
    } else if (size < 65536) {
      this.writeU8(220);
      this.writeU16(size);
    } else if (size < 4294967296) {
      this.writeU8(221);
      this.writeU32(size);
    } else {
      throw new Error(`Too large array: ${size}`);
    }
    for (const item of object) {
      this.doEncode(item, depth + 1);
    }
  }
  countWithoutUndefined(object, keys) {
    let count = 0;
    for (const key of keys) {
      if (object[key] !== void 0) {
        count++;
      }
    }
    return count;
  }
  encodeMap(object, depth) {
    const keys = Object.keys(object);
    if (this.sortKeys) {
      keys.sort();
    }
    const size = this.ignoreUndefined ? this.countWithoutUndefined(object, keys) : keys.length;
    if (size < 16) {
      this.writeU8(128 + size);
    } else if (size < 65536) {
      this.writeU8(222);
      this.writeU16(size);
    } else if (size < 4294967296) {
      this.writeU8(223);
      this.writeU32(size);
    } else {
      throw new Error(`Too large map object: ${size}`);
    }
    for (const key of keys) {
      const value = object[key];
      if (!(this.ignoreUndefined && value === void 0)) {
        this.encodeString(key);
        this.doEncode(value, depth + 1);
      }
    }
  }
  encodeExtension(ext) {
    if (typeof ext.data === "function") {
      const data = ext.data(this.pos + 6);
      const size2 = data.length;
      if (size2 >= 4294967296) {
        throw new Error(`Too large extension object: ${size2}`);
      }
      this.writeU8(201);
      this.writeU32(size2);
      this.writeI8(ext.type);
      this.writeU8a(data);
      return;
    }
    const size = ext.data.length;
    if (size === 1) {
      this.writeU8(212);
    } else if (size === 2) {
      this.writeU8(213);
    } else if (size === 4) {
      this.writeU8(214);
    } else if (size === 8) {
      this.writeU8(215);
    } else if (size === 16) {
      this.writeU8(216);
    } else if (size < 256) {
      this.writeU8(199);
      this.writeU8(size);
    } else if (size < 65536) {
      this.writeU8(200);
      this.writeU16(size);
    } else if (size < 4294967296) {
      this.writeU8(201);
      this.writeU32(size);
    } else {
      throw new Error(`Too large extension object: ${size}`);
    }
    this.writeI8(ext.type);
    this.writeU8a(ext.data);
  }
  writeU8(value) {
    this.ensureBufferSizeToWrite(1);
    this.view.setUint8(this.pos, value);
    this.pos++;
  }
  writeU8a(values) {
    const size = values.length;
    this.ensureBufferSizeToWrite(size);
    this.bytes.set(values, this.pos);
    this.pos += size;
  }
  writeI8(value) {
    this.ensureBufferSizeToWrite(1);
    this.view.setInt8(this.pos, value);
    this.pos++;
  }
  writeU16(value) {
    this.ensureBufferSizeToWrite(2);
    this.view.setUint16(this.pos, value);
    this.pos += 2;
  }
  writeI16(value) {
    this.ensureBufferSizeToWrite(2);
    this.view.setInt16(this.pos, value);
    this.pos += 2;
  }
  writeU32(value) {
    this.ensureBufferSizeToWrite(4);
    this.view.setUint32(this.pos, value);
    this.pos += 4;
  }
  writeI32(value) {
    this.ensureBufferSizeToWrite(4);
    this.view.setInt32(this.pos, value);
    this.pos += 4;
  }
  writeF32(value) {
    this.ensureBufferSizeToWrite(4);
    this.view.setFloat32(this.pos, value);
    this.pos += 4;
  }
  writeF64(value) {
    this.ensureBufferSizeToWrite(8);
    this.view.setFloat64(this.pos, value);
    this.pos += 8;
  }
  writeU64(value) {
    this.ensureBufferSizeToWrite(8);
    setUint64(this.view, this.pos, value);
    this.pos += 8;
  }
  writeI64(value) {
    this.ensureBufferSizeToWrite(8);
    setInt64(this.view, this.pos, value);
    this.pos += 8;
  }
  writeBigUint64(value) {
    this.ensureBufferSizeToWrite(8);
    this.view.setBigUint64(this.pos, value);
    this.pos += 8;
  }
  writeBigInt64(value) {
    this.ensureBufferSizeToWrite(8);
    this.view.setBigInt64(this.pos, value);
    this.pos += 8;
  }
};

// node_modules/@msgpack/msgpack/dist.esm/encode.mjs
function encode(value, options) {
  const encoder = new Encoder(options);
  return encoder.encodeSharedRef(value);
}

// node_modules/@msgpack/msgpack/dist.esm/utils/prettyByte.mjs
function prettyByte(byte) {
  return `${byte < 0 ? "-" : ""}0x${Math.abs(byte).toString(16).padStart(2, "0")}`;
}

// node_modules/@msgpack/msgpack/dist.esm/CachedKeyDecoder.mjs
var DEFAULT_MAX_KEY_LENGTH = 16;
var DEFAULT_MAX_LENGTH_PER_KEY = 16;
var CachedKeyDecoder = class {
  hit = 0;
  miss = 0;
  caches;
  maxKeyLength;
  maxLengthPerKey;
  constructor(maxKeyLength = DEFAULT_MAX_KEY_LENGTH, maxLengthPerKey = DEFAULT_MAX_LENGTH_PER_KEY) {
    this.maxKeyLength = maxKeyLength;
    this.maxLengthPerKey = maxLengthPerKey;
    this.caches = [];
    for (let i = 0; i < this.maxKeyLength; i++) {
      this.caches.push([]);
    }
  }
  canBeCached(byteLength) {
    return byteLength > 0 && byteLength <= this.maxKeyLength;
  }
  find(bytes, inputOffset, byteLength) {
    const records = this.caches[byteLength - 1];
    FIND_CHUNK: for (const record of records) {
      const recordBytes = record.bytes;
      for (let j = 0; j < byteLength; j++) {
        if (recordBytes[j] !== bytes[inputOffset + j]) {
          continue FIND_CHUNK;
        }
      }
      return record.str;
    }
    return null;
  }
  store(bytes, value) {
    const records = this.caches[bytes.length - 1];
    const record = { bytes, str: value };
    if (records.length >= this.maxLengthPerKey) {
      records[Math.random() * records.length | 0] = record;
    } else {
      records.push(record);
    }
  }
  decode(bytes, inputOffset, byteLength) {
    const cachedValue = this.find(bytes, inputOffset, byteLength);
    if (cachedValue != null) {
      this.hit++;
      return cachedValue;
    }
    this.miss++;
    const str = utf8DecodeJs(bytes, inputOffset, byteLength);
    const slicedCopyOfBytes = Uint8Array.prototype.slice.call(bytes, inputOffset, inputOffset + byteLength);
    this.store(slicedCopyOfBytes, str);
    return str;
  }
};

// node_modules/@msgpack/msgpack/dist.esm/Decoder.mjs
var STATE_ARRAY = "array";
var STATE_MAP_KEY = "map_key";
var STATE_MAP_VALUE = "map_value";
var mapKeyConverter = (key) => {
  if (typeof key === "string" || typeof key === "number") {
    return key;
  }
  throw new DecodeError("The type of key must be string or number but " + typeof key);
};
var StackPool = class {
  stack = [];
  stackHeadPosition = -1;
  get length() {
    return this.stackHeadPosition + 1;
  }
  top() {
    return this.stack[this.stackHeadPosition];
  }
  pushArrayState(size) {
    const state = this.getUninitializedStateFromPool();
    state.type = STATE_ARRAY;
    state.position = 0;
    state.size = size;
    state.array = new Array(size);
  }
  pushMapState(size) {
    const state = this.getUninitializedStateFromPool();
    state.type = STATE_MAP_KEY;
    state.readCount = 0;
    state.size = size;
    state.map = {};
  }
  getUninitializedStateFromPool() {
    this.stackHeadPosition++;
    if (this.stackHeadPosition === this.stack.length) {
      const partialState = {
        type: void 0,
        size: 0,
        array: void 0,
        position: 0,
        readCount: 0,
        map: void 0,
        key: null
      };
      this.stack.push(partialState);
    }
    return this.stack[this.stackHeadPosition];
  }
  release(state) {
    const topStackState = this.stack[this.stackHeadPosition];
    if (topStackState !== state) {
      throw new Error("Invalid stack state. Released state is not on top of the stack.");
    }
    if (state.type === STATE_ARRAY) {
      const partialState = state;
      partialState.size = 0;
      partialState.array = void 0;
      partialState.position = 0;
      partialState.type = void 0;
    }
    if (state.type === STATE_MAP_KEY || state.type === STATE_MAP_VALUE) {
      const partialState = state;
      partialState.size = 0;
      partialState.map = void 0;
      partialState.readCount = 0;
      partialState.type = void 0;
    }
    this.stackHeadPosition--;
  }
  reset() {
    this.stack.length = 0;
    this.stackHeadPosition = -1;
  }
};
var HEAD_BYTE_REQUIRED = -1;
var EMPTY_VIEW = new DataView(new ArrayBuffer(0));
var EMPTY_BYTES = new Uint8Array(EMPTY_VIEW.buffer);
try {
  EMPTY_VIEW.getInt8(0);
} catch (e) {
  if (!(e instanceof RangeError)) {
    throw new Error("This module is not supported in the current JavaScript engine because DataView does not throw RangeError on out-of-bounds access");
  }
}
var MORE_DATA = new RangeError("Insufficient data");
var sharedCachedKeyDecoder = new CachedKeyDecoder();
var Decoder = class _Decoder {
  extensionCodec;
  context;
  useBigInt64;
  rawStrings;
  maxStrLength;
  maxBinLength;
  maxArrayLength;
  maxMapLength;
  maxExtLength;
  keyDecoder;
  mapKeyConverter;
  totalPos = 0;
  pos = 0;
  view = EMPTY_VIEW;
  bytes = EMPTY_BYTES;
  headByte = HEAD_BYTE_REQUIRED;
  stack = new StackPool();
  entered = false;
  constructor(options) {
    this.extensionCodec = options?.extensionCodec ?? ExtensionCodec.defaultCodec;
    this.context = options?.context;
    this.useBigInt64 = options?.useBigInt64 ?? false;
    this.rawStrings = options?.rawStrings ?? false;
    this.maxStrLength = options?.maxStrLength ?? UINT32_MAX;
    this.maxBinLength = options?.maxBinLength ?? UINT32_MAX;
    this.maxArrayLength = options?.maxArrayLength ?? UINT32_MAX;
    this.maxMapLength = options?.maxMapLength ?? UINT32_MAX;
    this.maxExtLength = options?.maxExtLength ?? UINT32_MAX;
    this.keyDecoder = options?.keyDecoder !== void 0 ? options.keyDecoder : sharedCachedKeyDecoder;
    this.mapKeyConverter = options?.mapKeyConverter ?? mapKeyConverter;
  }
  clone() {
    return new _Decoder({
      extensionCodec: this.extensionCodec,
      context: this.context,
      useBigInt64: this.useBigInt64,
      rawStrings: this.rawStrings,
      maxStrLength: this.maxStrLength,
      maxBinLength: this.maxBinLength,
      maxArrayLength: this.maxArrayLength,
      maxMapLength: this.maxMapLength,
      maxExtLength: this.maxExtLength,
      keyDecoder: this.keyDecoder
    });
  }
  reinitializeState() {
    this.totalPos = 0;
    this.headByte = HEAD_BYTE_REQUIRED;
    this.stack.reset();
  }
  setBuffer(buffer) {
    const bytes = ensureUint8Array(buffer);
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }
  appendBuffer(buffer) {
    if (this.headByte === HEAD_BYTE_REQUIRED && !this.hasRemaining(1)) {
      this.setBuffer(buffer);
    } else {
      const remainingData = this.bytes.subarray(this.pos);
      const newData = ensureUint8Array(buffer);
      const newBuffer = new Uint8Array(remainingData.length + newData.length);
      newBuffer.set(remainingData);
      newBuffer.set(newData, remainingData.length);
      this.setBuffer(newBuffer);
    }
  }
  hasRemaining(size) {
    return this.view.byteLength - this.pos >= size;
  }
  createExtraByteError(posToShow) {
    const { view, pos } = this;
    return new RangeError(`Extra ${view.byteLength - pos} of ${view.byteLength} byte(s) found at buffer[${posToShow}]`);
  }
  /**
   * @throws {@link DecodeError}
   * @throws {@link RangeError}
   */
  decode(buffer) {
    if (this.entered) {
      const instance = this.clone();
      return instance.decode(buffer);
    }
    try {
      this.entered = true;
      this.reinitializeState();
      this.setBuffer(buffer);
      const object = this.doDecodeSync();
      if (this.hasRemaining(1)) {
        throw this.createExtraByteError(this.pos);
      }
      return object;
    } finally {
      this.entered = false;
    }
  }
  *decodeMulti(buffer) {
    if (this.entered) {
      const instance = this.clone();
      yield* instance.decodeMulti(buffer);
      return;
    }
    try {
      this.entered = true;
      this.reinitializeState();
      this.setBuffer(buffer);
      while (this.hasRemaining(1)) {
        yield this.doDecodeSync();
      }
    } finally {
      this.entered = false;
    }
  }
  async decodeAsync(stream) {
    if (this.entered) {
      const instance = this.clone();
      return instance.decodeAsync(stream);
    }
    try {
      this.entered = true;
      let decoded = false;
      let object;
      for await (const buffer of stream) {
        if (decoded) {
          this.entered = false;
          throw this.createExtraByteError(this.totalPos);
        }
        this.appendBuffer(buffer);
        try {
          object = this.doDecodeSync();
          decoded = true;
        } catch (e) {
          if (!(e instanceof RangeError)) {
            throw e;
          }
        }
        this.totalPos += this.pos;
      }
      if (decoded) {
        if (this.hasRemaining(1)) {
          throw this.createExtraByteError(this.totalPos);
        }
        return object;
      }
      const { headByte, pos, totalPos } = this;
      throw new RangeError(`Insufficient data in parsing ${prettyByte(headByte)} at ${totalPos} (${pos} in the current buffer)`);
    } finally {
      this.entered = false;
    }
  }
  decodeArrayStream(stream) {
    return this.decodeMultiAsync(stream, true);
  }
  decodeStream(stream) {
    return this.decodeMultiAsync(stream, false);
  }
  async *decodeMultiAsync(stream, isArray) {
    if (this.entered) {
      const instance = this.clone();
      yield* instance.decodeMultiAsync(stream, isArray);
      return;
    }
    try {
      this.entered = true;
      let isArrayHeaderRequired = isArray;
      let arrayItemsLeft = -1;
      for await (const buffer of stream) {
        if (isArray && arrayItemsLeft === 0) {
          throw this.createExtraByteError(this.totalPos);
        }
        this.appendBuffer(buffer);
        if (isArrayHeaderRequired) {
          arrayItemsLeft = this.readArraySize();
          isArrayHeaderRequired = false;
          this.complete();
        }
        try {
          while (true) {
            yield this.doDecodeSync();
            if (--arrayItemsLeft === 0) {
              break;
            }
          }
        } catch (e) {
          if (!(e instanceof RangeError)) {
            throw e;
          }
        }
        this.totalPos += this.pos;
      }
    } finally {
      this.entered = false;
    }
  }
  doDecodeSync() {
    DECODE: while (true) {
      const headByte = this.readHeadByte();
      let object;
      if (headByte >= 224) {
        object = headByte - 256;
      } else if (headByte < 192) {
        if (headByte < 128) {
          object = headByte;
        } else if (headByte < 144) {
          const size = headByte - 128;
          if (size !== 0) {
            this.pushMapState(size);
            this.complete();
            continue DECODE;
          } else {
            object = {};
          }
        } else if (headByte < 160) {
          const size = headByte - 144;
          if (size !== 0) {
            this.pushArrayState(size);
            this.complete();
            continue DECODE;
          } else {
            object = [];
          }
        } else {
          const byteLength = headByte - 160;
          object = this.decodeString(byteLength, 0);
        }
      } else if (headByte === 192) {
        object = null;
      } else if (headByte === 194) {
        object = false;
      } else if (headByte === 195) {
        object = true;
      } else if (headByte === 202) {
        object = this.readF32();
      } else if (headByte === 203) {
        object = this.readF64();
      } else if (headByte === 204) {
        object = this.readU8();
      } else if (headByte === 205) {
        object = this.readU16();
      } else if (headByte === 206) {
        object = this.readU32();
      } else if (headByte === 207) {
        if (this.useBigInt64) {
          object = this.readU64AsBigInt();
        } else {
          object = this.readU64();
        }
      } else if (headByte === 208) {
        object = this.readI8();
      } else if (headByte === 209) {
        object = this.readI16();
      } else if (headByte === 210) {
        object = this.readI32();
      } else if (headByte === 211) {
        if (this.useBigInt64) {
          object = this.readI64AsBigInt();
        } else {
          object = this.readI64();
        }
      } else if (headByte === 217) {
        const byteLength = this.lookU8();
        object = this.decodeString(byteLength, 1);
      } else if (headByte === 218) {
        const byteLength = this.lookU16();
        object = this.decodeString(byteLength, 2);
      } else if (headByte === 219) {
        const byteLength = this.lookU32();
        object = this.decodeString(byteLength, 4);
      } else if (headByte === 220) {
        const size = this.readU16();
        if (size !== 0) {
          this.pushArrayState(size);
          this.complete();
          continue DECODE;
        } else {
          object = [];
        }
      } else if (headByte === 221) {
        const size = this.readU32();
        if (size !== 0) {
          this.pushArrayState(size);
          this.complete();
          continue DECODE;
        } else {
          object = [];
        }
      } else if (headByte === 222) {
        const size = this.readU16();
        if (size !== 0) {
          this.pushMapState(size);
          this.complete();
          continue DECODE;
        } else {
          object = {};
        }
      } else if (headByte === 223) {
        const size = this.readU32();
        if (size !== 0) {
          this.pushMapState(size);
          this.complete();
          continue DECODE;
        } else {
          object = {};
        }
      } else if (headByte === 196) {
        const size = this.lookU8();
        object = this.decodeBinary(size, 1);
      } else if (headByte === 197) {
        const size = this.lookU16();
        object = this.decodeBinary(size, 2);
      } else if (headByte === 198) {
        const size = this.lookU32();
        object = this.decodeBinary(size, 4);
      } else if (headByte === 212) {
        object = this.decodeExtension(1, 0);
      } else if (headByte === 213) {
        object = this.decodeExtension(2, 0);
      } else if (headByte === 214) {
        object = this.decodeExtension(4, 0);
      } else if (headByte === 215) {
        object = this.decodeExtension(8, 0);
      } else if (headByte === 216) {
        object = this.decodeExtension(16, 0);
      } else if (headByte === 199) {
        const size = this.lookU8();
        object = this.decodeExtension(size, 1);
      } else if (headByte === 200) {
        const size = this.lookU16();
        object = this.decodeExtension(size, 2);
      } else if (headByte === 201) {
        const size = this.lookU32();
        object = this.decodeExtension(size, 4);
      } else {
        throw new DecodeError(`Unrecognized type byte: ${prettyByte(headByte)}`);
      }
      this.complete();
      const stack = this.stack;
      while (stack.length > 0) {
        const state = stack.top();
        if (state.type === STATE_ARRAY) {
          state.array[state.position] = object;
          state.position++;
          if (state.position === state.size) {
            object = state.array;
            stack.release(state);
          } else {
            continue DECODE;
          }
        } else if (state.type === STATE_MAP_KEY) {
          if (object === "__proto__") {
            throw new DecodeError("The key __proto__ is not allowed");
          }
          state.key = this.mapKeyConverter(object);
          state.type = STATE_MAP_VALUE;
          continue DECODE;
        } else {
          state.map[state.key] = object;
          state.readCount++;
          if (state.readCount === state.size) {
            object = state.map;
            stack.release(state);
          } else {
            state.key = null;
            state.type = STATE_MAP_KEY;
            continue DECODE;
          }
        }
      }
      return object;
    }
  }
  readHeadByte() {
    if (this.headByte === HEAD_BYTE_REQUIRED) {
      this.headByte = this.readU8();
    }
    return this.headByte;
  }
  complete() {
    this.headByte = HEAD_BYTE_REQUIRED;
  }
  readArraySize() {
    const headByte = this.readHeadByte();
    switch (headByte) {
      case 220:
        return this.readU16();
      case 221:
        return this.readU32();
      default: {
        if (headByte < 160) {
          return headByte - 144;
        } else {
          throw new DecodeError(`Unrecognized array type byte: ${prettyByte(headByte)}`);
        }
      }
    }
  }
  pushMapState(size) {
    if (size > this.maxMapLength) {
      throw new DecodeError(`Max length exceeded: map length (${size}) > maxMapLengthLength (${this.maxMapLength})`);
    }
    this.stack.pushMapState(size);
  }
  pushArrayState(size) {
    if (size > this.maxArrayLength) {
      throw new DecodeError(`Max length exceeded: array length (${size}) > maxArrayLength (${this.maxArrayLength})`);
    }
    this.stack.pushArrayState(size);
  }
  decodeString(byteLength, headerOffset) {
    if (!this.rawStrings || this.stateIsMapKey()) {
      return this.decodeUtf8String(byteLength, headerOffset);
    }
    return this.decodeBinary(byteLength, headerOffset);
  }
  /**
   * @throws {@link RangeError}
   */
  decodeUtf8String(byteLength, headerOffset) {
    if (byteLength > this.maxStrLength) {
      throw new DecodeError(`Max length exceeded: UTF-8 byte length (${byteLength}) > maxStrLength (${this.maxStrLength})`);
    }
    if (this.bytes.byteLength < this.pos + headerOffset + byteLength) {
      throw MORE_DATA;
    }
    const offset = this.pos + headerOffset;
    let object;
    if (this.stateIsMapKey() && this.keyDecoder?.canBeCached(byteLength)) {
      object = this.keyDecoder.decode(this.bytes, offset, byteLength);
    } else {
      object = utf8Decode(this.bytes, offset, byteLength);
    }
    this.pos += headerOffset + byteLength;
    return object;
  }
  stateIsMapKey() {
    if (this.stack.length > 0) {
      const state = this.stack.top();
      return state.type === STATE_MAP_KEY;
    }
    return false;
  }
  /**
   * @throws {@link RangeError}
   */
  decodeBinary(byteLength, headOffset) {
    if (byteLength > this.maxBinLength) {
      throw new DecodeError(`Max length exceeded: bin length (${byteLength}) > maxBinLength (${this.maxBinLength})`);
    }
    if (!this.hasRemaining(byteLength + headOffset)) {
      throw MORE_DATA;
    }
    const offset = this.pos + headOffset;
    const object = this.bytes.subarray(offset, offset + byteLength);
    this.pos += headOffset + byteLength;
    return object;
  }
  decodeExtension(size, headOffset) {
    if (size > this.maxExtLength) {
      throw new DecodeError(`Max length exceeded: ext length (${size}) > maxExtLength (${this.maxExtLength})`);
    }
    const extType = this.view.getInt8(this.pos + headOffset);
    const data = this.decodeBinary(
      size,
      headOffset + 1
      /* extType */
    );
    return this.extensionCodec.decode(data, extType, this.context);
  }
  lookU8() {
    return this.view.getUint8(this.pos);
  }
  lookU16() {
    return this.view.getUint16(this.pos);
  }
  lookU32() {
    return this.view.getUint32(this.pos);
  }
  readU8() {
    const value = this.view.getUint8(this.pos);
    this.pos++;
    return value;
  }
  readI8() {
    const value = this.view.getInt8(this.pos);
    this.pos++;
    return value;
  }
  readU16() {
    const value = this.view.getUint16(this.pos);
    this.pos += 2;
    return value;
  }
  readI16() {
    const value = this.view.getInt16(this.pos);
    this.pos += 2;
    return value;
  }
  readU32() {
    const value = this.view.getUint32(this.pos);
    this.pos += 4;
    return value;
  }
  readI32() {
    const value = this.view.getInt32(this.pos);
    this.pos += 4;
    return value;
  }
  readU64() {
    const value = getUint64(this.view, this.pos);
    this.pos += 8;
    return value;
  }
  readI64() {
    const value = getInt64(this.view, this.pos);
    this.pos += 8;
    return value;
  }
  readU64AsBigInt() {
    const value = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return value;
  }
  readI64AsBigInt() {
    const value = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return value;
  }
  readF32() {
    const value = this.view.getFloat32(this.pos);
    this.pos += 4;
    return value;
  }
  readF64() {
    const value = this.view.getFloat64(this.pos);
    this.pos += 8;
    return value;
  }
};

// node_modules/@msgpack/msgpack/dist.esm/decode.mjs
function decode(buffer, options) {
  const decoder = new Decoder(options);
  return decoder.decode(buffer);
}

// src/codec.js
var import_json5 = __toESM(require_dist(), 1);

// src/errors.js
var SwergioError = class extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
};
var InvalidMessage = class extends SwergioError {
  /**
   * @param {string} detail what was wrong
   * @param {string} [code] a short machine-readable reason
   */
  constructor(detail, code = "invalid-message") {
    super(detail);
    this.code = code;
    this.detail = detail;
  }
};
var Refused = class extends SwergioError {
  /** @param {Record<string, any>} message the error envelope as received */
  constructor(message) {
    const code = String(message.ERROR ?? "error");
    const detail = String(message.DETAIL ?? "");
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
    this.sender = String(message.SENT_BY ?? "");
    this.envelope = message;
  }
};
var HubError = class extends Refused {
};
var PeerError = class extends Refused {
  /** @param {Record<string, any>} message */
  constructor(message) {
    super(message);
    this.message = `${this.sender} refused: ${this.code}: ${this.detail}`;
  }
};
var NotConnected = class extends SwergioError {
};
var TimeoutError = class extends SwergioError {
};

// src/ndarray.js
var VIEWS = (
  /** @type {Record<string, any>} */
  {
    "|b1": Uint8Array,
    "|i1": Int8Array,
    "|u1": Uint8Array,
    "<i2": Int16Array,
    "<u2": Uint16Array,
    "<i4": Int32Array,
    "<u4": Uint32Array,
    "<i8": BigInt64Array,
    "<u8": BigUint64Array,
    "<f4": Float32Array,
    "<f8": Float64Array
  }
);
var DTYPES = [
  [Uint8Array, "|u1"],
  [Uint8ClampedArray, "|u1"],
  [Int8Array, "|i1"],
  [Int16Array, "<i2"],
  [Uint16Array, "<u2"],
  [Int32Array, "<i4"],
  [Uint32Array, "<u4"],
  [BigInt64Array, "<i8"],
  [BigUint64Array, "<u8"],
  [Float32Array, "<f4"],
  [Float64Array, "<f8"]
];
var LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
var DTYPE_STRING = /^([<>|=])([biufc])(\d{1,2})$/;
var NDArray = class _NDArray {
  /**
   * @param {TypedArray} data the elements, C order
   * @param {number[]} [shape] default: one dimension, `[data.length]` (for raw bytes: the element count)
   * @param {string} [dtype] default: the dtype of `data`'s class (`Float32Array` -> `"<f4"`)
   * @throws {InvalidMessage} an unknown dtype, or a shape whose size does not match the bytes of `data`
   */
  constructor(data, shape, dtype) {
    if (!ArrayBuffer.isView(data) || data instanceof DataView) {
      throw new InvalidMessage(`NDArray data must be a typed array, got ${Object.prototype.toString.call(data)}`, "bad-array");
    }
    this.dtype = dtype ?? dtypeOf(data);
    const size = itemSize(this.dtype);
    this.shape = shape ? [...shape] : [data.byteLength / size];
    checkShape(this.shape, this.dtype, data.byteLength);
    this.data = data;
  }
  /** Elements in all. */
  get size() {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** The raw C-order bytes (a view, not a copy). */
  get bytes() {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }
  /**
   * The array from its raw bytes (copied once into fresh memory, so every typed array is aligned).
   * @param {Uint8Array} bytes C-order bytes
   * @param {number[]} shape
   * @param {string} dtype numpy's dtype string
   * @returns {NDArray}
   * @throws {InvalidMessage} a forbidden dtype, or a byte count that does not match the shape
   */
  static fromBytes(bytes, shape, dtype) {
    itemSize(dtype);
    checkShape(shape, dtype, bytes.byteLength);
    const copy = bytes.slice();
    const View = LITTLE_ENDIAN ? VIEWS[dtype] : void 0;
    const data = View ? new View(copy.buffer, 0, copy.byteLength / View.BYTES_PER_ELEMENT) : copy;
    return new _NDArray(data, shape, dtype);
  }
};
function dtypeOf(data) {
  if (!LITTLE_ENDIAN) throw new InvalidMessage("arrays are sent from little-endian machines only", "bad-array");
  for (const [Class, dtype] of DTYPES) if (data instanceof Class) return dtype;
  throw new InvalidMessage(`no dtype for ${Object.prototype.toString.call(data)}`, "bad-array");
}
function itemSize(dtype) {
  const match = typeof dtype === "string" ? DTYPE_STRING.exec(dtype) : null;
  if (!match) throw new InvalidMessage(`ndarray extension with forbidden dtype ${JSON.stringify(dtype)}`, "bad-array");
  return Number(match[3]);
}
function checkShape(shape, dtype, byteLength) {
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0) || shape.length > 64) {
    throw new InvalidMessage(`ndarray extension shape must be a list of non-negative ints, got ${JSON.stringify(shape)}`, "bad-array");
  }
  const expected = shape.reduce((a, b) => a * b, 1) * itemSize(dtype);
  if (expected !== byteLength) {
    throw new InvalidMessage(`ndarray extension shape [${shape}] of ${dtype} needs ${expected} bytes, got ${byteLength}`, "bad-array");
  }
}

// src/codec.js
var NDARRAY_EXT = 1;
var extensions = new ExtensionCodec();
extensions.register({
  type: NDARRAY_EXT,
  encode(value) {
    if (value instanceof NDArray) return encode([value.dtype, value.shape, value.bytes]);
    if (ArrayBuffer.isView(value) && !(value instanceof Uint8Array) && !(value instanceof DataView)) {
      const array = new NDArray(
        /** @type {any} */
        value
      );
      return encode([array.dtype, array.shape, array.bytes]);
    }
    return null;
  },
  decode(payload) {
    let parts;
    try {
      parts = decode(payload);
    } catch (error) {
      throw new InvalidMessage(`ndarray extension is not [dtype, shape, bytes]: ${error}`, "bad-array");
    }
    if (!Array.isArray(parts) || parts.length !== 3 || !(parts[2] instanceof Uint8Array)) {
      throw new InvalidMessage("ndarray extension is not [dtype, shape, bytes]", "bad-array");
    }
    return NDArray.fromBytes(parts[2], parts[1], parts[0]);
  }
});
function needsBinary(value, depth = 0) {
  if (typeof value === "number") return !Number.isFinite(value);
  if (typeof value === "bigint") return true;
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof NDArray || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (depth > 1e3) throw new InvalidMessage("message nested too deeply to encode", "too-deep");
  if (Array.isArray(value)) return value.some((v) => needsBinary(v, depth + 1));
  for (const key in value) if (needsBinary(value[key], depth + 1)) return true;
  return false;
}
function encode2(msg) {
  try {
    if (!needsBinary(msg)) return JSON.stringify(msg);
    return encodeBinary(msg);
  } catch (error) {
    if (error instanceof InvalidMessage) throw error;
    throw new InvalidMessage(`message cannot be encoded: ${error}`, "unencodable");
  }
}
function encodeBinary(value) {
  const data = value instanceof ArrayBuffer ? new Uint8Array(value) : value;
  return encode(data, { extensionCodec: extensions, ignoreUndefined: true });
}
function decode2(frame) {
  if (typeof frame === "string") {
    try {
      return JSON.parse(frame);
    } catch {
      try {
        return import_json5.default.parse(frame);
      } catch (error) {
        throw new InvalidMessage(`frame is not valid JSON: ${error}`, "bad-json");
      }
    }
  }
  const bytes = frame instanceof ArrayBuffer ? new Uint8Array(frame) : frame;
  try {
    return decode(bytes, { extensionCodec: extensions });
  } catch (error) {
    if (error instanceof InvalidMessage) throw error;
    throw new InvalidMessage(`frame is not valid msgpack: ${error}`, "bad-msgpack");
  }
}

// src/messages.js
var MessageType = Object.freeze({
  DATA_FORWARD: "DATA/FORWARD",
  DATA_GRADIENT: "DATA/GRADIENT",
  DATA_REWARD: "DATA/REWARD",
  DATA_TEXT: "DATA/TEXT",
  DATA_CUSTOM: "DATA/CUSTOM",
  COMMAND_REGISTER: "COMMAND/REGISTER",
  COMMAND_DISCONNECT: "COMMAND/DISCONNECT",
  COMMAND_JOINROOM: "COMMAND/JOINROOM",
  COMMAND_LEAVEROOM: "COMMAND/LEAVEROOM",
  COMMAND_ROOMS: "COMMAND/ROOMS",
  COMMAND_ACK: "COMMAND/ACK",
  COMMAND_ENABLELOGGING: "COMMAND/ENABLELOGGING",
  COMMAND_DISABLELOGGING: "COMMAND/DISABLELOGGING",
  COMMAND_SAVEMODELWEIGHTS: "COMMAND/SAVEMODELWEIGHTS",
  COMMAND_LOADMODELWEIGHTS: "COMMAND/LOADMODELWEIGHTS",
  COMMAND_SAVESETTINGS: "COMMAND/SAVESETTINGS",
  COMMAND_LOADSETTINGS: "COMMAND/LOADSETTINGS",
  COMMAND_CUSTOM: "COMMAND/CUSTOM",
  LOG_MESSAGES: "LOG/MESSAGES",
  LOG_TRAFFIC: "LOG/TRAFFIC",
  LOG_KPI: "LOG/KPI",
  LOG_MODELWEIGHTS: "LOG/MODELWEIGHTS",
  LOG_SETTINGS: "LOG/SETTINGS",
  LOG_RUN: "LOG/RUN",
  LOG_ERROR: "LOG/ERROR",
  LOG_CUSTOM: "LOG/CUSTOM"
});
var ModelStatus = Object.freeze({ TRAIN: 1, VALIDATE: 2 });
var HUB_NAME = "_hub";
var MAX_NAME_LENGTH = 256;
var TOKEN_ENV = "SWERGIO_TOKEN";
var HUB_COMMANDS = /* @__PURE__ */ new Set([
  MessageType.COMMAND_REGISTER,
  MessageType.COMMAND_DISCONNECT,
  MessageType.COMMAND_JOINROOM,
  MessageType.COMMAND_LEAVEROOM,
  MessageType.COMMAND_ROOMS,
  MessageType.COMMAND_ENABLELOGGING,
  MessageType.COMMAND_DISABLELOGGING
]);
var KNOWN_TYPES = new Set(Object.values(MessageType));
var STRING_FIELDS = ["ROOT_ID", "TO_ROOM", "TO", "REPLY_TO"];
function newId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = bytes[6] & 15 | 64;
  bytes[8] = bytes[8] & 63 | 128;
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}
function describe(value) {
  let text;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  const kind = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return `${kind} ${text.length > 40 ? `${text.slice(0, 40)}...` : text}`;
}
function checkName(msg, field) {
  const value = msg[field];
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidMessage(`${field} must be a non-empty string, got ${describe(value)}`, "bad-field");
  }
  if ([...value].length > MAX_NAME_LENGTH) {
    throw new InvalidMessage(`${field} is longer than ${MAX_NAME_LENGTH} characters`, "bad-field");
  }
  if (!value.isWellFormed()) {
    throw new InvalidMessage(`${field} is not valid Unicode (lone surrogate), got ${describe(value)}`, "bad-field");
  }
  return value;
}
var UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;
function checkPrintable(value, field) {
  const bad = UNPRINTABLE.exec(value);
  if (bad) {
    const code = (
      /** @type {number} */
      bad[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0")
    );
    throw new InvalidMessage(`${field} may hold only printable characters, got U+${code}`, "bad-name");
  }
}
function validate(msg, { requireAddress = true } = {}) {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg) || ArrayBuffer.isView(msg)) {
    throw new InvalidMessage(`a message must be an object, got ${describe(msg)}`, "not-an-object");
  }
  if (msg instanceof Map) throw new InvalidMessage("field names must be strings", "bad-field");
  if (!("ID" in msg)) throw new InvalidMessage("missing field ID", "missing-field");
  checkName(msg, "ID");
  if (!("TYPE" in msg)) throw new InvalidMessage("missing field TYPE", "missing-field");
  const type = msg.TYPE;
  if (typeof type !== "string" || !KNOWN_TYPES.has(type)) {
    throw new InvalidMessage(`unknown TYPE ${describe(type)}`, "unknown-type");
  }
  for (const field of STRING_FIELDS) if (field in msg) checkName(msg, field);
  const status = msg.MODEL_STATUS;
  if (status !== void 0 && status !== null && status !== 1 && status !== 2) {
    throw new InvalidMessage(`MODEL_STATUS must be 1 (TRAIN) or 2 (VALIDATE), got ${describe(status)}`, "bad-field");
  }
  if (HUB_COMMANDS.has(type)) {
    if (type === MessageType.COMMAND_REGISTER) checkPrintable(checkName(msg, "NAME"), "NAME");
    else if (type === MessageType.COMMAND_JOINROOM || type === MessageType.COMMAND_LEAVEROOM) {
      checkPrintable(checkName(msg, "ROOM"), "ROOM");
    } else if (type === MessageType.COMMAND_ROOMS && "AFTER" in msg) checkName(msg, "AFTER");
  } else if (requireAddress && !("TO_ROOM" in msg) && !("TO" in msg)) {
    throw new InvalidMessage(`${type} message ${msg.ID} addresses nobody: give TO_ROOM or TO`, "no-address");
  }
  return msg;
}

// src/endpoint.js
var SENDER = "<sender>";
var ACK = MessageType.COMMAND_ACK;
var ERROR = MessageType.LOG_ERROR;
function asList(value) {
  if (value === null || value === void 0) return null;
  if (typeof value === "string") return [value];
  return [...value].map(String);
}
var Trigger = class {
  /**
   * @param {string|Iterable<string>} types one message type or several (`"DATA/FORWARD"`)
   * @param {string|Iterable<string>|null} [rooms] the rooms to listen to (joined automatically); null: any room this
   *   client is in
   * @param {boolean} [direct] also fire on messages addressed to this component by name (`TO`) without `TO_ROOM`
   */
  constructor(types, rooms = null, direct = true) {
    this.types = /** @type {string[]} */
    asList(types);
    this.rooms = asList(rooms);
    this.direct = direct;
  }
  /**
   * True if `msg`, received by the component called `name`, fires this trigger.
   * @param {Envelope} msg
   * @param {string} name
   */
  matches(msg, name) {
    if (!this.types.includes(msg.TYPE)) return false;
    const room = msg.TO_ROOM;
    if (room !== void 0 && room !== null && (this.rooms === null || this.rooms.includes(room))) return true;
    return this.direct && msg.TO === name;
  }
};
var Handler = class {
  /**
   * @param {(msg: Envelope, context: Record<string, any>) => any} fn plain or async; its result becomes the reply
   * @param {Trigger} trigger
   * @param {ReplySpec} [spec]
   */
  constructor(fn, trigger, { replyType, replyRooms, replyTo } = {}) {
    this.fn = fn;
    this.trigger = trigger;
    this.replyType = replyType ?? null;
    this.replyRooms = asList(replyRooms);
    this.replyTo = replyTo ?? null;
    this.calls = 0;
    this.errors = 0;
    this.tail = Promise.resolve();
  }
  /** Rooms this handler needs to be a member of. */
  rooms() {
    return [...this.trigger.rooms ?? [], ...this.replyRooms ?? []];
  }
};
function* backoff(first, longest, random = Math.random) {
  if (!(first > 0) || !(longest >= first)) {
    throw new RangeError(`backoff caps must satisfy 0 < first <= longest, got (${first}, ${longest})`);
  }
  let cap = first;
  for (; ; ) {
    yield [random() * cap, cap];
    cap = Math.min(cap * 2, longest);
  }
}
function refuses(waiter, msg) {
  return waiter.request !== null && msg.TYPE === ERROR && msg.REPLY_TO === waiter.request && (waiter.asked === null || msg.SENT_BY === waiter.asked);
}
function waiterMatches(waiter, msg, name) {
  const type = msg.TYPE;
  if ((type === ACK || type === ERROR) && waiter.asked !== null && msg.SENT_BY !== waiter.asked) return false;
  if (waiter.type !== null && type !== waiter.type && !refuses(waiter, msg)) return false;
  if (waiter.room !== null) return msg.TO_ROOM === waiter.room;
  return msg.TO === name;
}
var Endpoint = class {
  /**
   * @param {string} name the component's name, unique on the hub
   * @param {{maxBuffer?: number, maxBufferBytes?: number}} [options] bounds of the reconnection buffer: messages,
   *   and bytes (characters of text frames)
   */
  constructor(name, { maxBuffer = 1e3, maxBufferBytes = 128 * 2 ** 20 } = {}) {
    this.name = name;
    this.maxBuffer = maxBuffer;
    this.maxBufferBytes = maxBufferBytes;
    this.handlers = [];
    this.wanted = /* @__PURE__ */ new Set();
    this.joined = /* @__PURE__ */ new Set();
    this.stats = { sent: 0, received: 0, undecodable: 0, hubErrors: 0, reconnects: 0 };
    this.answers = /* @__PURE__ */ new Map();
    this.waiters = /* @__PURE__ */ new Map();
    this.buffer = [];
    this.bufferBytes = 0;
  }
  /**
   * A copy of `msg` ready to send: `ID` filled if missing, `ROOT_ID` = `ID` if missing, `SENT_BY` removed (the hub
   * stamps it), validated.
   * @param {Envelope} msg
   * @returns {Envelope}
   * @throws {import("./errors.js").InvalidMessage} the message breaks the protocol
   */
  complete(msg) {
    const out = { ...msg };
    if (out.ID === void 0) out.ID = newId();
    if (out.ROOT_ID === void 0) out.ROOT_ID = out.ID;
    delete out.SENT_BY;
    return validate(out);
  }
  /**
   * A completed hub command, e.g. `command("COMMAND/JOINROOM", { ROOM: "input" })`.
   * @param {string} type
   * @param {Envelope} [fields]
   */
  command(type, fields = {}) {
    return this.complete({ TYPE: type, ...fields });
  }
  /**
   * Rooms to join, sorted: `rooms` (default: every wanted room and every room a handler needs) minus the joined.
   * @param {Iterable<string>} [rooms]
   * @returns {string[]}
   */
  roomsToJoin(rooms) {
    const all = new Set(rooms ?? [...this.wanted, ...this.handlers.flatMap((h2) => h2.rooms())]);
    return [...all].filter((r) => !this.joined.has(r)).sort();
  }
  /**
   * Keep `frame` to send after the reconnection.
   * @param {string|Uint8Array} frame
   * @throws {NotConnected} the buffer is full (`maxBuffer` messages, or `maxBufferBytes` passed)
   */
  keep(frame) {
    const size = this.bufferBytes + frameSize(frame);
    if (this.buffer.length >= this.maxBuffer || size > this.maxBufferBytes) {
      throw new NotConnected(
        `client ${JSON.stringify(this.name)} is reconnecting and its send buffer is full: ${this.buffer.length} messages of ${this.bufferBytes} bytes kept, this one of ${frameSize(frame)} bytes would pass the bound of ${this.maxBuffer} messages or ${this.maxBufferBytes} bytes`
      );
    }
    this.buffer.push(frame);
    this.bufferBytes = size;
  }
  /** The buffered frames, oldest first, removed from the buffer. */
  takeBuffered() {
    const frames = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    return frames;
  }
  /**
   * Hand the hub's answer to message `id` (COMMAND/ACK or LOG/ERROR) to `token`.
   * @param {string} id
   * @param {any} token
   */
  expectAnswer(id, token) {
    this.answers.set(id, token);
  }
  /**
   * Hand `token` the first message of chain `rootId` that arrives in `room` (or, with no room, addressed to this
   * component), of `type` if given. With `request` (the ID sent), a LOG/ERROR answering it ends the wait as a
   * refusal; with `asked` (the request went TO that component), only that component's answer counts.
   * @param {string} rootId
   * @param {any} token
   * @param {{room?: string|null, type?: string|null, request?: string|null, asked?: string|null}} [options]
   * @returns {Waiter} a handle for forgetReply
   */
  expectReply(rootId, token, { room = null, type = null, request = null, asked = null } = {}) {
    const waiter = { token, room, type, request, asked };
    const list = this.waiters.get(rootId) ?? [];
    list.push(waiter);
    this.waiters.set(rootId, list);
    return waiter;
  }
  /**
   * @param {string} rootId
   * @param {Waiter} waiter
   */
  forgetReply(rootId, waiter) {
    const list = this.waiters.get(rootId);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.waiters.delete(rootId);
  }
  /** Every token still waiting (the connection is gone: the transport fails them); forgets them. */
  takeTokens() {
    const tokens = [...this.answers.values(), ...[...this.waiters.values()].flat().map((w) => w.token)];
    this.answers.clear();
    this.waiters.clear();
    return tokens;
  }
  /**
   * Place one decoded, valid message; returns what the transport must do, or null.
   * @param {Envelope} msg
   * @returns {EndpointEvent|null}
   */
  handle(msg) {
    const type = msg.TYPE;
    let refused = null;
    if ((type === ACK || type === ERROR) && msg.SENT_BY === HUB_NAME) {
      if (type === ACK && Array.isArray(msg.ROOMS)) this.joined = new Set(msg.ROOMS);
      const key = msg.REPLY_TO ?? "";
      const token = this.answers.get(key);
      if (token !== void 0) {
        this.answers.delete(key);
        return { kind: "answered", token, message: msg, error: type === ACK ? null : new HubError(msg) };
      }
      if (type === ACK) return null;
      this.stats.hubErrors += 1;
      refused = new HubError(msg);
    }
    const list = this.waiters.get(msg.ROOT_ID ?? "");
    if (list) {
      const i = list.findIndex((w) => waiterMatches(w, msg, this.name));
      if (i >= 0) {
        const [waiter] = list.splice(i, 1);
        if (!list.length) this.waiters.delete(msg.ROOT_ID);
        return { kind: "replied", token: waiter.token, message: msg, error: refuses(waiter, msg) ? new PeerError(msg) : null };
      }
    }
    const handlers = this.handlers.filter((h2) => h2.trigger.matches(msg, this.name));
    if (refused !== null) return { kind: "refused", message: msg, error: refused, handlers };
    return handlers.length ? { kind: "dispatch", message: msg, handlers } : null;
  }
  /**
   * The messages to send for what `handler` returned on `incoming`: none for null/undefined; each object completed
   * with `ID`, `TYPE` from the handler's replyType, `ROOT_ID` and `MODEL_STATUS` carried over from `incoming`, `TO`
   * from replyTo (SENDER: the incoming message's `SENT_BY`); with replyRooms and no `TO_ROOM` of its own, one copy
   * per room, the copies sharing the `ID`.
   * @param {Handler} handler
   * @param {Envelope} incoming
   * @param {any} result
   * @returns {Envelope[]}
   * @throws {TypeError} `result` is not null, an object or a list of objects
   */
  replies(handler, incoming, result) {
    if (result === null || result === void 0) return [];
    const items = Array.isArray(result) ? result : [result];
    const out = [];
    for (const item of items) {
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new TypeError(`a handler returned ${typeof item}; expected an object, a list of objects or null`);
      }
      const reply = { ...item };
      reply.ID ??= newId();
      if (handler.replyType !== null) reply.TYPE ??= handler.replyType;
      reply.ROOT_ID ??= incoming.ROOT_ID ?? incoming.ID;
      if ("MODEL_STATUS" in incoming) reply.MODEL_STATUS ??= incoming.MODEL_STATUS;
      const target = handler.replyTo === SENDER ? incoming.SENT_BY : handler.replyTo;
      if (target !== null && target !== void 0) reply.TO ??= target;
      if (handler.replyRooms && !("TO_ROOM" in reply)) {
        for (const room of handler.replyRooms) out.push({ ...reply, TO_ROOM: room });
      } else out.push(reply);
    }
    return out;
  }
};
function frameSize(frame) {
  return typeof frame === "string" ? frame.length : frame.byteLength;
}

// src/websocket.js
var found = null;
function webSocketClass() {
  found ??= globalThis.WebSocket ? Promise.resolve(globalThis.WebSocket) : import("ws").then((module) => module.WebSocket ?? module.default);
  return found;
}
function hubUrl(url, token = null) {
  const parsed = new URL(url, globalThis.location?.href);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (token && !parsed.searchParams.has("token")) parsed.searchParams.set("token", token);
  return parsed.href;
}
function redact(url) {
  return url.replace(/([?&]token=)[^&#\s]+/, "$1...");
}

// src/client.js
function deferred() {
  const d = { done: false };
  d.promise = new Promise((resolve, reject) => {
    d.resolve = (value) => {
      d.done = true;
      resolve(value);
    };
    d.reject = (error) => {
      d.done = true;
      reject(error);
    };
  });
  d.promise.catch(() => {
  });
  return d;
}
var sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1e3));
var Client = class {
  /**
   * @param {string} name the component's name, unique on the hub; others address it with `TO`
   * @param {string} url the hub's URL (`ws://127.0.0.1:8765`, `wss://...`, or in a browser a path such as
   *   `"/swergio/ws"`: the Jupyter server's hub, with the page's login)
   * @param {ClientOptions} [options]
   */
  constructor(name, url, options = {}) {
    const envToken = globalThis.process?.env?.[TOKEN_ENV] ?? null;
    this.name = name;
    this.url = hubUrl(url, options.token ?? envToken);
    this.reconnect = options.reconnect ?? true;
    this.backoff = options.backoff ?? [0.05, 5];
    this.timeout = options.timeout ?? 10;
    this.logger = options.logger ?? console;
    this.endpoint = new Endpoint(name, { maxBuffer: options.maxBuffer, maxBufferBytes: options.maxBufferBytes });
    this.context = { ...options.context, client: this };
    this.state = "closed";
    this.errorListeners = [];
    this.ws = null;
    this.closing = false;
    this.connecting = null;
    this.pendingJoins = /* @__PURE__ */ new Set();
    this.finished = deferred();
  }
  /** True while the connection is open and registered (false while reconnecting). */
  get connected() {
    return this.state === "open" && this.ws !== null;
  }
  /** Rooms the hub has confirmed this client is in. */
  get joined() {
    return new Set(this.endpoint.joined);
  }
  /** Counters: frames sent and received, undecodable frames, unasked hub errors, reconnections. */
  get stats() {
    return this.endpoint.stats;
  }
  /** The registered handlers, in registration order. */
  get handlers() {
    return this.endpoint.handlers;
  }
  // -- lifecycle -------------------------------------------------------------------------------------------------
  /**
   * Open the connection, register the name, join every room the handlers need. Safe to call while connecting.
   * @returns {Promise<Client>}
   * @throws {import("./errors.js").HubError} the hub refused the registration (e.g. `name-taken`)
   * @throws {NotConnected} the hub cannot be reached
   * @throws {TimeoutError} the hub did not answer within `timeout`
   */
  connect() {
    if (this.connected) return Promise.resolve(this);
    if (this.connecting) return this.connecting;
    this.closing = false;
    if (this.finished.done) this.finished = deferred();
    this.state = "connecting";
    this.connecting = this.open().then(
      () => this,
      (error) => {
        this.state = "closed";
        throw error;
      }
    );
    this.connecting.finally(() => {
      this.connecting = null;
    }).catch(() => {
    });
    return this.connecting;
  }
  /** Serve until close(), or until the connection is lost and `reconnect` is false; connects first if needed. */
  async run() {
    await this.connect();
    await this.finished.promise;
  }
  /** Close the connection for good (no reconnection); what was buffered for a reconnection is dropped. */
  async close() {
    this.closing = true;
    this.state = "closed";
    const dropped = this.endpoint.takeBuffered().length;
    if (dropped) this.logger.warn(`${this.name}: closing with ${dropped} buffered messages unsent`);
    this.fail(new NotConnected("the client was closed"));
    const ws = this.ws;
    this.ws = null;
    if (ws) await closeSocket(ws);
    if (!this.finished.done) this.finished.resolve();
  }
  // -- handlers --------------------------------------------------------------------------------------------------
  /**
   * Run `fn` on every message matching `trigger`; what it returns (an object, a list of objects, or nothing; or a
   * promise of one) becomes the reply. Its rooms are joined (at once if connected; the next send waits for that).
   * @param {Trigger} trigger
   * @param {(msg: Envelope, context: Record<string, any>) => any} fn
   * @param {ReplySpec} [spec] `replyType`, `replyRooms` (one copy each), `replyTo` (a name or SENDER)
   * @returns {Handler}
   */
  on(trigger, fn, spec = {}) {
    const handler = new Handler(fn, trigger, spec);
    this.endpoint.handlers.push(handler);
    if (this.connected) {
      const missing = this.endpoint.roomsToJoin(handler.rooms());
      if (missing.length) this.track(this.joinAll(missing));
    }
    return handler;
  }
  /**
   * Unregister `handler` (its rooms stay joined).
   * @param {Handler} handler
   */
  removeHandler(handler) {
    const i = this.endpoint.handlers.indexOf(handler);
    if (i < 0) throw new RangeError("that handler is not registered");
    this.endpoint.handlers.splice(i, 1);
  }
  // -- sending ---------------------------------------------------------------------------------------------------
  /**
   * Send a message; fills `ID` (and `ROOT_ID` = `ID`) when missing. While reconnecting it is buffered.
   * @param {Envelope} msg the envelope; `DATA` may hold NDArrays and typed arrays (sent as a binary frame)
   * @returns {Promise<Envelope>} the message as sent
   * @throws {import("./errors.js").InvalidMessage} the message breaks the protocol (nothing is sent)
   * @throws {NotConnected} no live connection and none coming back, or the reconnection buffer is full
   */
  async send(msg) {
    const completed = this.endpoint.complete(msg);
    const frame = encode2(completed);
    await this.ready();
    this.write(frame);
    return completed;
  }
  /**
   * Send `msg` and wait for the reply in its chain (same `ROOT_ID`): the first message of the chain that arrives in
   * `replyRoom` (joined first if needed) or, without one, that is addressed to this component; of `replyType` if
   * given. Handlers do not see the reply.
   * @param {Envelope} msg
   * @param {{replyRoom?: string|null, replyType?: string|null, timeout?: number|null}} [options] `timeout`: one
   *   deadline in seconds for everything (default 30; null waits forever)
   * @returns {Promise<Envelope>}
   * @throws {TimeoutError} no reply within `timeout`
   * @throws {import("./errors.js").HubError} the hub refused `msg`
   * @throws {import("./errors.js").PeerError} the asked component answered with LOG/ERROR
   * @throws {NotConnected} the connection closed while waiting
   */
  async request(msg, { replyRoom = null, replyType = null, timeout = 30 } = {}) {
    const completed = this.endpoint.complete(msg);
    const frame = encode2(completed);
    const reply = deferred();
    const timer = timeout === null ? null : setTimeout(() => {
      reply.reject(new TimeoutError(`no reply to ${completed.TYPE} ${completed.ID} within ${timeout} s`));
    }, timeout * 1e3);
    const race = (step) => Promise.race([step, reply.promise]);
    const root = completed.ROOT_ID;
    let waiter = null;
    try {
      await race(this.ready());
      if (replyRoom !== null) await race(this.joinRoom(replyRoom));
      if (reply.done) return await reply.promise;
      waiter = this.endpoint.expectReply(root, reply, {
        room: replyRoom,
        type: replyType,
        request: completed.ID,
        asked: completed.TO ?? null
      });
      this.endpoint.expectAnswer(completed.ID, reply);
      this.write(frame);
      return await reply.promise;
    } finally {
      if (timer !== null) clearTimeout(timer);
      this.endpoint.answers.delete(completed.ID);
      if (waiter) this.endpoint.forgetReply(root, waiter);
    }
  }
  /**
   * Join `room` (no-op if in it already); resolves once the hub confirmed, and rejoins it after a reconnection.
   * @param {string} room
   * @throws {import("./errors.js").HubError} the hub refused (`forbidden-room`, `too-many-rooms`, `bad-name`)
   */
  async joinRoom(room) {
    await this.ready(false);
    await this.joinAll([room]);
  }
  /**
   * Leave `room`; resolves once the hub confirmed.
   * @param {string} room
   */
  async leaveRoom(room) {
    await this.ready(false);
    this.endpoint.wanted.delete(room);
    await this.command(this.endpoint.command(MessageType.COMMAND_LEAVEROOM, { ROOM: room }));
  }
  /**
   * Every room on the hub with the names of its members (asked page by page).
   * @returns {Promise<Record<string, string[]>>}
   */
  async roomTable() {
    await this.ready(false);
    const table = {};
    let after = {};
    for (; ; ) {
      const ack = await this.command(this.endpoint.command(MessageType.COMMAND_ROOMS, after));
      Object.assign(table, ack.TABLE);
      const rooms = Object.keys(ack.TABLE ?? {});
      if (!ack.MORE || !rooms.length) return table;
      after = { AFTER: rooms[rooms.length - 1] };
    }
  }
  // -- internals -------------------------------------------------------------------------------------------------
  /**
   * Wait for a connection in progress and (unless `joins` is false) for the rooms being joined.
   * @param {boolean} [joins]
   */
  async ready(joins = true) {
    if (this.connecting) await this.connecting;
    if (this.state === "closed") throw new NotConnected(`client ${JSON.stringify(this.name)} is not connected`);
    while (joins && this.pendingJoins.size) await Promise.all(this.pendingJoins);
  }
  /** @param {Promise<void>} join */
  track(join) {
    this.pendingJoins.add(join);
    join.catch((error) => this.logger.warn(`${this.name}: joining a handler's room failed: ${error}`)).finally(() => this.pendingJoins.delete(join));
  }
  /** @param {string|Uint8Array} frame */
  write(frame) {
    const ws = this.ws;
    if (this.state === "reconnecting" || this.state === "open" && (!ws || ws.readyState !== 1) && this.reconnect) {
      this.endpoint.keep(frame);
      return;
    }
    if (this.state !== "open" || !ws || ws.readyState !== 1) {
      throw new NotConnected(`client ${JSON.stringify(this.name)} is not connected`);
    }
    ws.send(frame);
    this.endpoint.stats.sent += 1;
  }
  /**
   * Send a hub command and wait for its COMMAND/ACK.
   * @param {Envelope} msg
   * @param {any} [ws] the socket of a connection being opened (its registration and joins go before it is open)
   * @returns {Promise<Envelope>}
   */
  async command(msg, ws = null) {
    const answer = deferred();
    this.endpoint.expectAnswer(msg.ID, answer);
    const timer = setTimeout(() => {
      answer.reject(new TimeoutError(`the hub did not answer ${msg.TYPE} within ${this.timeout} s`));
    }, this.timeout * 1e3);
    try {
      if (ws) {
        ws.send(encode2(msg));
        this.endpoint.stats.sent += 1;
      } else this.write(encode2(msg));
      return await answer.promise;
    } finally {
      clearTimeout(timer);
      this.endpoint.answers.delete(msg.ID);
    }
  }
  /** @param {Iterable<string>} rooms */
  async joinAll(rooms) {
    for (const room of [...rooms].sort()) {
      this.endpoint.wanted.add(room);
      if (!this.endpoint.joined.has(room)) {
        await this.command(this.endpoint.command(MessageType.COMMAND_JOINROOM, { ROOM: room }));
      }
    }
  }
  /** One attempt: connect, register, join the rooms, flush the buffer; then open. */
  async open() {
    const WebSocket = await webSocketClass();
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new TimeoutError(`no connection to ${redact(this.url)} within ${this.timeout} s`));
        ws.close();
      }, this.timeout * 1e3);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(void 0);
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new NotConnected(`cannot connect to ${redact(this.url)}`));
      };
      ws.onclose = (event) => {
        clearTimeout(timer);
        reject(new NotConnected(`cannot connect to ${redact(this.url)} (close code ${event.code}${event.reason ? `: ${event.reason}` : ""})`));
      };
    });
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => this.lost(ws);
    this.ws = ws;
    const endpoint = this.endpoint;
    try {
      endpoint.joined = /* @__PURE__ */ new Set();
      await this.command(endpoint.command(MessageType.COMMAND_REGISTER, { NAME: this.name }), ws);
      for (const room of endpoint.roomsToJoin()) {
        await this.command(endpoint.command(MessageType.COMMAND_JOINROOM, { ROOM: room }), ws);
      }
      for (const frame of endpoint.takeBuffered()) {
        ws.send(frame);
        endpoint.stats.sent += 1;
      }
    } catch (error) {
      if (this.ws === ws) this.ws = null;
      await closeSocket(ws);
      throw error;
    }
    if (this.state === "reconnecting") endpoint.stats.reconnects += 1;
    this.state = "open";
  }
  /** @param {any} ws the socket that closed */
  lost(ws) {
    if (this.ws !== ws) return;
    this.ws = null;
    const wasOpen = this.state === "open";
    this.fail(new NotConnected(`client ${JSON.stringify(this.name)}: the connection to the hub was lost`));
    if (!wasOpen) return;
    if (this.reconnect && !this.closing) {
      this.state = "reconnecting";
      this.logger.warn(`${this.name}: lost the connection to the hub; reconnecting`);
      this.reconnecting();
    } else {
      this.state = "closed";
      this.finished.resolve();
    }
  }
  async reconnecting() {
    for (const [wait, cap] of backoff(...this.backoff)) {
      await sleep(wait);
      if (this.closing || this.state !== "reconnecting") return;
      try {
        await this.open();
        this.logger.info(`${this.name}: reconnected to ${redact(this.url)}`);
        return;
      } catch (error) {
        this.logger.info(`${this.name}: reconnection failed (${error}) after a wait within ${cap.toFixed(2)} s`);
      }
    }
  }
  /** @param {Error} error fails every call still waiting */
  fail(error) {
    for (const token of this.endpoint.takeTokens()) if (!token.done) token.reject(error);
  }
  /** @param {string|ArrayBuffer} frame */
  receive(frame) {
    const endpoint = this.endpoint;
    endpoint.stats.received += 1;
    let msg;
    try {
      msg = validate(decode2(frame), { requireAddress: false });
    } catch (error) {
      endpoint.stats.undecodable += 1;
      this.logger.warn(`${this.name}: dropped an undecodable frame: ${error}`);
      return;
    }
    const event = endpoint.handle(msg);
    if (event === null) return;
    if (event.kind === "answered" || event.kind === "replied") {
      if (!event.token.done) {
        if (event.error) event.token.reject(event.error);
        else event.token.resolve(event.message);
      }
      return;
    }
    if (event.kind === "refused") this.logger.warn(`${this.name}: the hub answered ${event.error.message}`);
    const message = event.message;
    for (const handler of event.handlers) {
      handler.tail = handler.tail.then(() => this.handle(handler, message));
    }
  }
  /**
   * Run one handler on one message and send its replies.
   * @param {Handler} handler
   * @param {Envelope} msg
   */
  async handle(handler, msg) {
    handler.calls += 1;
    try {
      const result = await handler.fn(msg, this.context);
      for (const reply of this.endpoint.replies(handler, msg, result)) await this.send(reply);
    } catch (error) {
      handler.errors += 1;
      if (!this.errorListeners.length) {
        this.logger.error(`${this.name}: handler ${handler.fn.name || "(anonymous)"} failed on ${msg.TYPE} ${msg.ID}:`, error);
      }
      for (const listener of this.errorListeners) listener(handler, msg, error);
    }
  }
};
function closeSocket(ws) {
  if (ws.readyState === 3) return Promise.resolve();
  return new Promise((resolve) => {
    ws.addEventListener("close", () => resolve(void 0), { once: true });
    ws.close(1e3);
  });
}

// lib/hub-labelling.js
function base64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 32768) text += String.fromCharCode(...bytes.subarray(i, i + 32768));
  return btoa(text);
}
function rows(genomes) {
  if (genomes instanceof NDArray) {
    const [n, width] = genomes.shape.length === 2 ? genomes.shape : [1, genomes.size];
    const bytes = Uint8Array.from(genomes.data, Number);
    return Array.from({ length: n }, (_, i) => bytes.slice(i * width, (i + 1) * width));
  }
  return [...genomes].map((g) => g instanceof NDArray ? Uint8Array.from(g.data, Number) : Uint8Array.from(g));
}
var HubLabelling = class {
  /** @param {HubLabellingOptions} options */
  constructor(options) {
    const { url, name = "person", store = "label-store", room = "user", metrics = "metrics" } = options;
    this.store = store;
    this.source = options.source ?? "person";
    this.accuracyKpi = options.accuracyKpi ?? "cross-validated accuracy";
    this.undoWindow = options.undoWindow ?? 3;
    this.timeout = options.timeout ?? 30;
    this.state = {
      item: {},
      confirmed: {},
      can_undo: false,
      waiting: 0,
      labels: 0,
      accuracy: null,
      autoplay: options.autoplay ?? true,
      rater: options.rater ?? "you",
      accuracy_label: options.accuracyLabel ?? "accuracy"
    };
    this.listeners = /* @__PURE__ */ new Map();
    this.batches = [];
    this.count = 0;
    this.actions = 0;
    this.rendered = /* @__PURE__ */ new Map();
    this.client = new Client(name, url);
    this.client.on(new Trigger("DATA/CUSTOM", room), (msg) => this.label(msg), { replyType: "DATA/CUSTOM", replyRooms: room });
    this.client.on(new Trigger("LOG/KPI", metrics), (msg) => {
      if (msg.KPI === "labels") this.set("labels", Number(msg.VALUE));
      else if (msg.KPI === this.accuracyKpi) this.set("accuracy", Number(msg.VALUE));
    });
    this.connected = this.client.connect().then(
      () => this.show(`connected to the hub as ${name}`),
      (error) => {
        this.show(`not connected to the hub: ${error.message}`, false);
        throw error;
      }
    );
    this.connected.catch(() => {
    });
  }
  // -- what labelling.js's render uses (an anywidget model's interface) -----------------------------------------
  /** @param {string} key */
  get(key) {
    return this.state[key];
  }
  /**
   * @param {string} event `"change:NAME"`
   * @param {() => void} callback
   */
  on(event, callback) {
    if (!this.listeners.has(event)) this.listeners.set(event, /* @__PURE__ */ new Set());
    this.listeners.get(event).add(callback);
  }
  /**
   * @param {string} event
   * @param {() => void} callback
   */
  off(event, callback) {
    this.listeners.get(event)?.delete(callback);
  }
  /**
   * A click: `{action: "rate"|"skip"|"undo", key, rating}`.
   * @param {{action: string, key: number|null, rating: number|null}} content
   */
  send(content) {
    this.act(content.action, content.key, content.rating).catch((error) => this.show(`not saved: ${error.message}`, false));
  }
  /** Leave the hub. */
  close() {
    return this.client.close();
  }
  // -- state ----------------------------------------------------------------------------------------------------
  /**
   * @param {string} key
   * @param {any} value
   */
  set(key, value) {
    this.state[key] = value;
    for (const callback of this.listeners.get(`change:${key}`) ?? []) callback();
  }
  /**
   * @param {string} text
   * @param {boolean} [ok]
   * @param {Record<string, any>} [fields]
   */
  show(text, ok = true, fields = {}) {
    this.actions += 1;
    this.set("confirmed", { ...fields, text, ok, n: this.actions });
  }
  /** The melody to rate now, or null. */
  get current() {
    for (const batch of this.batches) for (const item of batch.items) if (item.status === "pending") return item;
    return null;
  }
  /** Draw the current melody once the store has rendered it; the counters at once. */
  async refresh() {
    const item = this.current;
    this.set("can_undo", Boolean(this.batches.length && this.batches[0].decided.length));
    this.set("waiting", this.batches.reduce((n, b) => n + b.items.filter((i) => i.status === "pending").length, 0));
    if (item === null) {
      this.set("item", {});
      return;
    }
    const batch = (
      /** @type {Batch} */
      this.batches.find((b) => b.items.includes(item))
    );
    const position = batch.decided.length + 1;
    const shown = this.state.item;
    if (shown.key === item.key && shown.position === position) return;
    const media = await this.render(item);
    if (this.current === item) this.set("item", { key: item.key, position, size: batch.items.length, ...media });
  }
  /**
   * The melody as the store renders it (base64 WAV and PNG), kept for the current melody only.
   * @param {Item} item
   */
  async render(item) {
    let media = this.rendered.get(item.key);
    if (!media) {
      const reply = await this.ask({ OP: "render", GENOME: new NDArray(item.genome) });
      media = { wav: base64(reply.WAV), roll: base64(reply.ROLL) };
      this.rendered = /* @__PURE__ */ new Map([[item.key, media]]);
    }
    return media;
  }
  /**
   * A request to the store.
   * @param {Envelope} fields
   * @returns {Promise<Envelope>}
   */
  ask(fields) {
    return this.client.request({ TYPE: "DATA/CUSTOM", TO: this.store, ...fields }, { timeout: this.timeout });
  }
  // -- the learner's requests -----------------------------------------------------------------------------------
  /**
   * A label request: queue its melodies; answer once each is rated or skipped.
   * @param {Envelope} msg
   */
  async label(msg) {
    if (!("GENOMES" in msg) || "FITNESS" in msg) return null;
    const genomes = rows(msg.GENOMES);
    if (!genomes.length) return { GENOMES: new NDArray(new Uint8Array(0), [0, 0]), FITNESS: [], SKIPPED: 0 };
    const ratings = await new Promise((resolve) => {
      const items = genomes.map((genome) => ({ key: ++this.count, genome, status: (
        /** @type {const} */
        "pending"
      ), rating: null, row: null }));
      this.batches.push({ items, decided: [], resolve, closing: null });
      this.refresh();
    });
    const rated = genomes.filter((_, i) => ratings[i] !== null);
    const width = genomes[0].length;
    const flat = new Uint8Array(rated.length * width);
    rated.forEach((g, i) => flat.set(g, i * width));
    return {
      GENOMES: new NDArray(flat, [rated.length, width]),
      FITNESS: ratings.filter((r) => r !== null),
      SKIPPED: ratings.filter((r) => r === null).length
    };
  }
  /**
   * Carry out a click.
   * @param {string} action
   * @param {number|null} key the melody the click was on
   * @param {number|null} rating
   */
  async act(action, key, rating) {
    const item = this.current;
    if ((action === "rate" || action === "skip") && (item === null || key !== null && key !== item.key)) {
      return this.show("that melody was already answered", false, { action, key });
    }
    if (action === "rate" && item) {
      let reply;
      try {
        reply = await this.ask({ OP: "rate", GENOME: new NDArray(item.genome), RATING: rating, SOURCE: this.source });
      } catch (error) {
        return this.show(`not saved: ${/** @type {Error} */
        error.message}`, false, { action, key });
      }
      Object.assign(item, { status: "rated", rating, row: reply.ROW });
      this.show(`saved rating ${rating} (row ${reply.ROW})`, true, { action, key: item.key, rating, row: reply.ROW });
      return this.decided(item);
    }
    if (action === "skip" && item) {
      item.status = "skipped";
      this.show("skipped", true, { action, key: item.key });
      return this.decided(item);
    }
    if (action === "undo") return this.undo();
    return this.show(`unknown action ${JSON.stringify(action)}`, false, { action });
  }
  async undo() {
    const batch = this.batches[0];
    if (!batch || !batch.decided.length) return this.show("nothing to undo", false, { action: "undo", key: null });
    if (batch.closing !== null) clearTimeout(batch.closing);
    batch.closing = null;
    const item = (
      /** @type {Item} */
      batch.decided.pop()
    );
    if (item.status === "rated" && item.row !== null) {
      try {
        await this.ask({ OP: "undo", ROW: item.row });
      } catch (error) {
        batch.decided.push(item);
        return this.show(`not undone: ${/** @type {Error} */
        error.message}`, false, { action: "undo", key: item.key });
      }
    }
    Object.assign(item, { status: "pending", rating: null, row: null });
    this.show("undone: rate it again", true, { action: "undo", key: item.key });
    return this.refresh();
  }
  /** @param {Item} item */
  decided(item) {
    const batch = (
      /** @type {Batch} */
      this.batches.find((b) => b.items.includes(item))
    );
    batch.decided.push(item);
    if (batch.items.every((i) => i.status !== "pending")) {
      const answer = () => {
        this.batches.splice(this.batches.indexOf(batch), 1);
        batch.resolve(batch.items.map((i) => i.rating));
        this.refresh();
      };
      if (this.undoWindow > 0) batch.closing = setTimeout(answer, this.undoWindow * 1e3);
      else answer();
    }
    return this.refresh();
  }
};

// labelling.js
var CSS = `
.swergio-labelling { font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; outline: none;
  color: var(--jp-ui-font-color1, #222); border: 1px solid var(--jp-border-color2, #ddd); padding: 8px;
  border-radius: 4px; max-width: 680px; }
.swergio-labelling:focus { border-color: var(--jp-brand-color1, #1976d2); }
.swergio-labelling .bar { display: flex; gap: 8px; align-items: center; margin: 4px 0; flex-wrap: wrap; }
.swergio-labelling .progress { font-weight: bold; }
.swergio-labelling .rater { font-weight: bold; color: var(--jp-brand-color1, #1976d2); }
.swergio-labelling .learner { color: var(--jp-ui-font-color2, #555); }
.swergio-labelling img { max-width: 100%; display: block; }
.swergio-labelling button.rate { min-width: 2.4em; font-weight: bold; }
.swergio-labelling .status { min-height: 1.2em; color: var(--jp-success-color1, #2e7d32); }
.swergio-labelling .status.refused { color: var(--jp-warn-color1, #b35c00); }
.swergio-labelling .idle { color: var(--jp-ui-font-color2, #888); padding: 1em 0; }
`;
function h(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}
function render({ model, el }) {
  const hub = model.get("hub");
  if (!hub || !hub.url) return drawWidget(model, el);
  const person = new HubLabelling(hub);
  const stop = drawWidget(person, el);
  return () => {
    stop();
    person.close();
  };
}
function start({ el, ...options }) {
  const person = new HubLabelling(options);
  drawWidget(person, el);
  return person;
}
function drawWidget(model, el) {
  const root = h("div", { className: "swergio-labelling", tabIndex: 0 });
  root.append(h("style", { textContent: CSS }));
  const rater = h("span", { className: "rater" });
  const progress = h("span", { className: "progress" });
  const learner = h("span", { className: "learner" });
  const audio = h("audio", { controls: true, preload: "auto" });
  const play = h("button", { className: "play", textContent: "▶ play", title: "play again (p)" });
  const roll = h("img", { className: "roll", alt: "piano roll" });
  const idle = h("div", { className: "idle", textContent: "no melody waiting: the learner asks when its pool is full" });
  const rateButtons = [0, 1, 2, 3, 4, 5].map(
    (r) => h("button", { className: "rate", textContent: String(r), title: `rate ${r} (key ${r})`, value: String(r) })
  );
  const skip = h("button", { className: "skip", textContent: "skip", title: "skip (s)" });
  const undo = h("button", { className: "undo", textContent: "undo", title: "undo the last rating (u)" });
  const status = h("div", { className: "status" });
  const melody = h("div", { className: "melody" }, [
    h("div", { className: "bar" }, [play, audio]),
    roll,
    h("div", { className: "bar" }, ["rating: ", ...rateButtons, skip])
  ]);
  root.append(h("div", { className: "bar" }, [rater, progress, learner]), idle, melody, h("div", { className: "bar" }, [undo]), status);
  el.append(root);
  let pendingKey = null;
  const SETTLE_MS = 400;
  let shownAt = 0;
  function showStatus(text, ok = true) {
    status.textContent = text;
    status.className = ok ? "status" : "status refused";
  }
  function send(action, rating) {
    const item = model.get("item") || {};
    if (action !== "undo" && (item.key === void 0 || pendingKey === item.key)) return;
    if (action !== "undo" && performance.now() - shownAt < SETTLE_MS) {
      showStatus("a new melody: listen first, then rate it", false);
      return;
    }
    if (action !== "undo") pendingKey = item.key;
    showStatus(action === "rate" ? `saving ${rating}…` : "");
    model.send({ action, key: item.key ?? null, rating: rating ?? null });
  }
  function takeFocus() {
    const active = document.activeElement;
    const typing = active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
    if (!typing && el.isConnected) root.focus({ preventScroll: true });
  }
  rateButtons.forEach((b, r) => b.addEventListener("click", () => {
    send("rate", r);
    root.focus();
  }));
  skip.addEventListener("click", () => {
    send("skip");
    root.focus();
  });
  undo.addEventListener("click", () => {
    send("undo");
    root.focus();
  });
  play.addEventListener("click", () => {
    audio.currentTime = 0;
    audio.play().catch(() => {
    });
    root.focus();
  });
  root.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const k = event.key;
    if (k >= "0" && k <= "5" && k.length === 1) send("rate", Number(k));
    else if (k === "s") send("skip");
    else if (k === "u") send("undo");
    else if (k === "p" || k === " ") {
      audio.currentTime = 0;
      audio.play().catch(() => {
      });
    } else return;
    event.preventDefault();
    event.stopPropagation();
  });
  let shownKey = null;
  function draw() {
    const item = model.get("item") || {};
    const has = item.key !== void 0 && item.key !== null;
    melody.style.display = has ? "" : "none";
    idle.style.display = has ? "none" : "";
    progress.textContent = has ? `${item.position} of ${item.size}` : "idle";
    if (has && item.key !== shownKey) {
      shownKey = item.key;
      pendingKey = null;
      shownAt = performance.now();
      takeFocus();
      audio.src = `data:audio/wav;base64,${item.wav}`;
      roll.src = `data:image/png;base64,${item.roll}`;
      if (model.get("autoplay")) audio.play().catch(() => {
      });
    }
    if (!has) shownKey = null;
    undo.disabled = !model.get("can_undo");
    const acc = model.get("accuracy");
    const labels = model.get("labels");
    const waiting = model.get("waiting");
    rater.textContent = `rating: ${model.get("rater")}`;
    learner.textContent = `learner: ${labels} labels` + (acc === null || acc === void 0 ? "" : `, ${model.get("accuracy_label")} ${(100 * acc).toFixed(1)} %`) + (waiting ? ` · ${waiting} waiting` : "");
  }
  function confirmed() {
    const c = model.get("confirmed") || {};
    if (c.text) showStatus(c.text, c.ok !== false);
    pendingKey = null;
  }
  model.on("change:item", draw);
  model.on("change:can_undo", draw);
  model.on("change:accuracy", draw);
  model.on("change:labels", draw);
  model.on("change:waiting", draw);
  model.on("change:rater", draw);
  model.on("change:accuracy_label", draw);
  model.on("change:confirmed", confirmed);
  draw();
  confirmed();
  return () => root.remove();
}
var labelling_default = { render };
export {
  labelling_default as default,
  start
};
