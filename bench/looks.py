"""Why "sessions until p < 0.05 first appears" depends on how often a test is
looked at, and "sessions until p < 0.05 stays" does not (docs/benchmarks.md,
Experiments). A one-sided z-test on a Brownian motion with the drift that gives
80 % power at n = 1, looked at `per_n80` times per unit of n up to n = 4:
prints the quartiles of the first look with p < 0.05 and of the look from
which every later look keeps it. Pure standard library, seeded.

    python3 bench/looks.py
"""
import math
import random

DRIFT = 1.959964 + 0.841621  # z_0.975 + z_0.8: 80 % power at n = 1
CAP = 4.0


def path(per_n80, rng):
    steps = int(CAP * per_n80)
    dt = 1.0 / per_n80
    w, first, last_miss = 0.0, None, 0
    for k in range(1, steps + 1):
        w += rng.gauss(0.0, math.sqrt(dt))
        t = k * dt
        if (w + DRIFT * t) / math.sqrt(t) > 1.959964:
            first = first or t
        else:
            last_miss = k
    return first or CAP, (last_miss + 1) * dt


def quartiles(v):
    v = sorted(v)
    return " / ".join(f"{v[round((len(v) - 1) * q)]:.2f}" for q in (0.25, 0.5, 0.75))


if __name__ == "__main__":
    for per_n80 in (100, 1000):
        rng = random.Random(7)
        runs = [path(per_n80, rng) for _ in range(1000)]
        print(f"looked at {per_n80} times per n80: first p < 0.05 at {quartiles([r[0] for r in runs])} n80; "
              f"kept from {quartiles([r[1] for r in runs])} n80 (quartiles of 1000 paths)")
