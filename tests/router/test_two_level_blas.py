"""The gateway pins BLAS to one thread once, and routing then skips its per-call limit."""

import subprocess
import sys
import textwrap


def test_pinning_blas_makes_routing_skip_its_per_call_limit():
    # A fresh interpreter: pinning is for the rest of the process.
    code = textwrap.dedent(
        """
        import contextlib
        from threadpoolctl import threadpool_info
        import orchestrator.router.two_level as tl
        assert not isinstance(tl._single_thread_blas(), contextlib.nullcontext)
        tl.pin_single_thread_blas()
        assert isinstance(tl._single_thread_blas(), contextlib.nullcontext)
        assert all(lib["num_threads"] == 1 for lib in threadpool_info() if lib["user_api"] == "blas")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
