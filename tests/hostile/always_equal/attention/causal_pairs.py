"""Hostile: results whose __eq__ always says yes."""


class Yes:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class YesList(list):
    def __eq__(self, other):
        return True


class YesInt(int):
    def __eq__(self, other):
        return True


def causal_pairs(seq_len):
    return YesList()


def count_causal_pairs(seq_len):
    return Yes()


def keys_attended(position):
    return YesInt(0)
