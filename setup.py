"""Build shopwindow, compiling the request path's modules with Cython when it can.

The modules below are plain Python and stay the reference: with a C compiler and
Cython (a build requirement) each is also compiled to an extension module, which
Python imports in preference to the source. A compiled answer costs about 40%
less CPU (docs/performance.md). Without a compiler, or with SHOPWINDOW_PURE=1,
the package installs as pure Python and behaves the same.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

# The modules a request passes through (the hot routes, the visitor, the rules,
# counting). Anything else (CLI, reports, loading rules) gains nothing from it.
COMPILED = (
    "attribution",
    "beacon",
    "cards",
    "catalog",
    "channel",
    "conditions",
    "context",
    "counting",
    "decisionlog",
    "device",
    "events",
    "fastlane",
    "geo",
    "homepage",
    "landing",
    "limits",
    "metrics",
    "network",
    "outofstock",
    "popularity",
    "popupcaps",
    "popups",
    "productfilter",
    "profiles",
    "recommendations",
    "responses",
    "rules",
    "searchpicks",
    "shoppable",
    "statsstore",
    "statsstore_sqlite",
    "visitor",
    "web",
)

DIRECTIVES = {
    "language_level": 3,
    # Annotations stay hints, as in the source: no C types, no extra checks.
    "annotation_typing": False,
    "binding": True,
}


def extensions() -> list[Extension]:
    if os.environ.get("SHOPWINDOW_PURE") == "1":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    # Half the compile time of the default -O3 -g, no slower to run; generated C, so no warnings.
    flags = [] if os.name == "nt" else ["-O2", "-g0", "-w"]
    modules = [
        Extension(f"shopwindow.{name}", [f"src/shopwindow/{name}.py"], extra_compile_args=flags)
        for name in COMPILED
    ]
    built: list[Extension] = cythonize(
        modules, compiler_directives=DIRECTIVES, quiet=True, nthreads=os.cpu_count() or 1
    )
    for extension in built:
        # A failed C build (no compiler) leaves that module in pure Python, not a failed
        # install. Set here: cythonize's extensions do not keep `optional`.
        extension.optional = True
    return built


setup(
    ext_modules=extensions(),
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
)
