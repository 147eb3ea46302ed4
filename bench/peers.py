"""The M/M/4 model of bench/peers in SimPy or Ciw.

python peers.py simpy|ciw CUSTOMERS  ->  prints "<seconds> <mean wait ms>"
"""
import random
import sys
import time

LAMBDA, MU, C = 32.0, 10.0, 4


def simpy_run(n):
    import simpy

    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=C)
    rng = random.Random(1)
    waits = []

    def customer():
        arrive = env.now
        with servers.request() as req:
            yield req
            waits.append(env.now - arrive)
            yield env.timeout(rng.expovariate(MU))

    def source():
        for _ in range(n):
            env.process(customer())
            yield env.timeout(rng.expovariate(LAMBDA))

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    return time.perf_counter() - t0, sum(waits) / len(waits) * 1e3


def ciw_run(n):
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAMBDA)],
        service_distributions=[ciw.dists.Exponential(rate=MU)],
        number_of_servers=[C],
    )
    ciw.seed(1)
    sim = ciw.Simulation(network)
    t0 = time.perf_counter()
    sim.simulate_until_max_customers(n, method="Finish")
    secs = time.perf_counter() - t0
    recs = sim.get_all_records()
    return secs, sum(r.waiting_time for r in recs) / len(recs) * 1e3


if __name__ == "__main__":
    tool, n = sys.argv[1], int(sys.argv[2])
    secs, wait = {"simpy": simpy_run, "ciw": ciw_run}[tool](n)
    print(f"{secs:.4f} {wait:.3f}")
