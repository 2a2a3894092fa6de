"""An engine that forgot to define Value."""


class Scalar:
    pass
