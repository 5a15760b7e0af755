"""Time PySD and Simlin (pysimlin) in-process on XMILE files; used by benches/peers.sh.

For each file and engine: load once (not timed), run once (warm-up, not timed), then time
single runs until at least MIN_SECONDS have passed (at least MIN_RUNS, at most MAX_RUNS runs).
Simlin: sim.reset() + sim.run_to_end() on one Sim. PySD: model.run() (it re-initialises).
Prints one JSON object per line: {"engine", "file", "runs", "median_run_s"} or {"engine",
"file", "error"}. An argument `FILE=PYSD_FILE` gives PySD its own flavour of the same model
(`careshift export --for pysd`); results are reported under FILE.
"""

import json
import statistics
import sys
import time

MIN_SECONDS = 2.0
MIN_RUNS = 5
MAX_RUNS = 2000


def timed(run_once):
    run_once()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < MAX_RUNS and (
        len(times) < MIN_RUNS or time.perf_counter() - start < MIN_SECONDS
    ):
        t0 = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - t0)
    return len(times), statistics.median(times)


def simlin_runner(path):
    import simlin

    sim = simlin.load(path).simulate()

    def run_once():
        sim.reset()
        sim.run_to_end()

    return run_once


def pysd_runner(path):
    import warnings

    import pysd

    warnings.simplefilter("ignore")
    model = pysd.read_xmile(path)
    return lambda: model.run(progress=False)


def main():
    engines = {"simlin": simlin_runner, "pysd": pysd_runner}
    for arg in sys.argv[1:]:
        path, _, pysd_path = arg.partition("=")
        for engine, make in engines.items():
            source = pysd_path if engine == "pysd" and pysd_path else path
            try:
                runs, median = timed(make(source))
                out = {"engine": engine, "file": path, "runs": runs, "median_run_s": median}
            except Exception as e:  # an engine that cannot read or run the file
                out = {"engine": engine, "file": path, "error": f"{type(e).__name__}: {e}"[:300]}
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
