"""The notebook as control room: the kernel's session (:mod:`.kernel`), ``%swergio`` (:mod:`.magics`) and the
widgets (:mod:`.widgets`; their JavaScript is built from ``js/`` into ``swergio_nb/static``), and the hub inside
Jupyter Server (:mod:`.server`, the server extension; :mod:`.discovery`, how its kernels find it)."""
