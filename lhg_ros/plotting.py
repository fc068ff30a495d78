"""Plots for people: matplotlib without a display."""


def pyplot():
    """matplotlib.pyplot on the Agg backend: writes files, needs no screen."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt
