"""Measure a pocket model's head roles with circuitwidgets.analysis (written next)."""


def record(out, name):
    try:
        import circuitwidgets.analysis  # noqa: F401
    except ImportError:
        print("circuitwidgets.analysis is not available yet: measure later with "
              f"python -m circuitwidgets.pocket.measure {name}", flush=True)
        return None
    raise NotImplementedError
