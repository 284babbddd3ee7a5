"""``python -m monai_landmarks.apps.monailabel [FOLDER]``: make the app folder (:func:`make_app_dir`) and print it,
for ``monailabel start_server --app``."""

import argparse
import sys

from monai_landmarks.apps.monailabel import default_app_dir, make_app_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monai_landmarks.apps.monailabel",
        description="Make the MONAI Label app folder (main.py; MONAI Label adds bin/ lib/ logs/ model/) and print it.",
    )
    parser.add_argument("folder", nargs="?", help=f"the app folder (default: {default_app_dir()})")
    args = parser.parse_args(argv)
    try:
        print(make_app_dir(args.folder))
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
