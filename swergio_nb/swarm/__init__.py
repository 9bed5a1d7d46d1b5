"""Components as processes: the launcher (:mod:`.launcher`, swergio's ``swarm.yaml``) and the ``swergio-nb``
command (:mod:`.cli`)."""
