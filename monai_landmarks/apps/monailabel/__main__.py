"""``python -m monai_landmarks.apps.monailabel`` prints the app folder, for ``monailabel start_server --app``."""

from monai_landmarks.apps.monailabel import APP_DIR

print(APP_DIR)
