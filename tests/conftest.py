import os
import tempfile

# Eight simulated CPU devices for the data-parallel tests; set before jax is imported.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# A persistent compilation cache shared by the test workers and the processes the tests start
# (CLI runs, kill-and-resume runs): the same train step is otherwise compiled dozens of times.
# Entries are keyed by the program, so a stale one is never used; a damaged one is recompiled.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"vdmjax-test-jax-cache-{os.getuid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
