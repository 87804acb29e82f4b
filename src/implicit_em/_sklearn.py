"""Running scikit-learn next to torch without the two fighting over threads.

torch and scikit-learn each load their own OpenMP runtime (two ``libgomp`` copies), and
with both spinning threads on the same cores scikit-learn's OpenMP and BLAS code slows
down many-fold (measured on 2 cores: a linear probe on 8000 x 1024 features 6.7 s ->
0.9 s, k-means with 256 centroids 10.1 s -> 3.1 s, same results). Their fits therefore
run with one thread per pool.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def one_thread():
    """Context manager: every BLAS/OpenMP pool at one thread (``threadpoolctl``)."""
    return threadpool_limits(limits=1)
