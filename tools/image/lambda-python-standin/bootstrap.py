"""Start awslambdaric with the module search path Lambda documents for Python functions.

Lambda's order: the function's code (LAMBDA_TASK_ROOT), then layers (/opt/python/lib/python3.13/site-packages,
/opt/python), then the runtime (/var/runtime, where awslambdaric lives), then the interpreter's own paths.
"""

import os
import site
import sys


def main() -> None:
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    layer_site_packages = f"/opt/python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    if "PYTHONPATH" not in os.environ:
        sys.path[0:0] = [layer_site_packages, "/opt/python"]
    sys.path.insert(0, task_root)
    # .pth files of the function's dependencies (installed with --target into the task root) are honoured.
    site.addsitedir(task_root)
    from awslambdaric import __main__ as awslambdaric_main  # noqa: PLC0415 - found only once the path is set

    awslambdaric_main.main([sys.argv[0], os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
