"""DuckDB side of `carepath bench dashboard`.

Reads a job file written by the benchmark: the tables (CSV path and column
types) and the aggregates (SQL with $n parameters). Loads the tables into an
in-memory DuckDB database (not timed), runs each aggregate once to warm up
and then `samples` times, and prints JSON: the DuckDB version, the load
time, and for each aggregate its median and slowest time in milliseconds and
its rows (for the benchmark to check against its own answers).
"""

import json
import statistics
import sys
import time

import duckdb


def main(path):
    with open(path) as f:
        spec = json.load(f)
    con = duckdb.connect(":memory:")
    t0 = time.perf_counter()
    for t in spec["tables"]:
        columns = "{" + ", ".join(f"'{c}': '{ty}'" for c, ty in t["columns"]) + "}"
        con.execute(
            f"CREATE TABLE {t['name']} AS SELECT * FROM read_csv(?, header = true, columns = {columns})",
            [t["csv"]],
        )
    load_s = round(time.perf_counter() - t0, 2)
    out = []
    for job in spec["jobs"]:
        params = job["params"]
        rows = con.execute(job["sql"], params).fetchall()
        times = []
        for _ in range(max(1, spec["samples"])):
            t0 = time.perf_counter()
            rows = con.execute(job["sql"], params).fetchall()
            times.append((time.perf_counter() - t0) * 1000.0)
        out.append(
            {
                "name": job["name"],
                "p50_ms": statistics.median(times),
                "max_ms": max(times),
                "rows": [[v if isinstance(v, (int, float, str)) or v is None else str(v) for v in r] for r in rows],
            }
        )
    json.dump({"version": duckdb.__version__, "load_s": load_s, "jobs": out}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
