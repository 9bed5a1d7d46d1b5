from __future__ import annotations

import pytest

from swergio_nb import MESSAGE_TYPE, InvalidMessage, MessageType, ModelStatus, make_message, validate


def test_swergio_vocabulary_is_kept():
    assert MESSAGE_TYPE.DATA.FORWARD == "DATA/FORWARD"
    assert MESSAGE_TYPE.DATA.GRADIENT is MessageType.DATA_GRADIENT
    assert MESSAGE_TYPE.COMMAND.JOINROOM == "COMMAND/JOINROOM"
    assert MESSAGE_TYPE.LOG.MESSAGES == "LOG/MESSAGES"
    assert ModelStatus.TRAIN == 1 and ModelStatus.VALIDATE == 2


def test_make_message_fills_id_and_root_id():
    msg = make_message(MessageType.DATA_FORWARD, [1, 2], TO_ROOM="input", GENOMES=[[0, 1]])
    assert len(msg["ID"]) == 32 and msg["ROOT_ID"] == msg["ID"]
    assert msg["TYPE"] == "DATA/FORWARD" and msg["DATA"] == [1, 2] and msg["GENOMES"] == [[0, 1]]
    assert validate(msg) is msg
    chained = make_message("DATA/GRADIENT", 0.5, TO_ROOM="output", ROOT_ID=msg["ID"])
    assert chained["ROOT_ID"] == msg["ID"] != chained["ID"]


@pytest.mark.parametrize(
    ("msg", "code", "words"),
    [
        ([1, 2], "not-an-object", "object"),
        ({"TYPE": "DATA/FORWARD", "TO_ROOM": "a"}, "missing-field", "ID"),
        ({"ID": "x", "TO_ROOM": "a"}, "missing-field", "TYPE"),
        ({"ID": "x", "TYPE": "DATA/NOPE", "TO_ROOM": "a"}, "unknown-type", "DATA/NOPE"),
        ({"ID": "x", "TYPE": "DATA/FORWARD"}, "no-address", "TO_ROOM or TO"),
        ({"ID": "", "TYPE": "DATA/FORWARD", "TO_ROOM": "a"}, "bad-field", "ID"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO_ROOM": 5}, "bad-field", "TO_ROOM"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO": "b", "MODEL_STATUS": 3}, "bad-field", "MODEL_STATUS"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO": "b", "MODEL_STATUS": True}, "bad-field", "MODEL_STATUS"),
        ({"ID": "x", "TYPE": "COMMAND/REGISTER"}, "bad-field", "NAME"),
        ({"ID": "x", "TYPE": "COMMAND/JOINROOM", "ROOM": ""}, "bad-field", "ROOM"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO_ROOM": "r" * 300}, "bad-field", "longer"),
    ],
)
def test_invalid_envelopes_name_the_problem(msg, code, words):
    with pytest.raises(InvalidMessage) as info:
        validate(msg)
    assert info.value.code == code
    assert words in str(info.value)


def test_hub_commands_need_no_address_but_other_commands_do():
    validate({"ID": "a", "TYPE": "COMMAND/JOINROOM", "ROOM": "input"})
    validate({"ID": "a", "TYPE": "COMMAND/ROOMS"})
    with pytest.raises(InvalidMessage, match="addresses nobody"):
        validate({"ID": "a", "TYPE": "COMMAND/SAVEMODELWEIGHTS"})
