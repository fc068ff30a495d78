#!/usr/bin/env bash
# The main job on a machine with no ROS distribution and no hardware: set-up if needed, the
# environment check, then what runs end to end so far: the speaker audio front-end on real
# speech (espeak-ng) and the speaker head pose of a moving face photograph, with pictures.
# Outputs land in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
VENV=${VENV:-.venv}
OUT=${OUT:-out/demo}
mkdir -p "$OUT"

"$VENV/bin/lhg-ros" doctor

echo
echo "== speaker audio features of real speech"
espeak-ng -v en-us -s 150 -w "$OUT/speaker_raw.wav" \
  "Hello there. I wanted to tell you about my weekend. We went hiking in the mountains, and \
the weather was wonderful. Have you ever been up there?"
sox "$OUT/speaker_raw.wav" "$OUT/speaker.wav" rate 16000 pad 1 1
"$VENV/bin/lhg-ros" audio-features "$OUT/speaker.wav" -o "$OUT/speaker_features.npz" \
  --plot "$OUT/speaker_features.png"

echo
echo "== speaker head pose of a real face photograph moving with known motion"
"$VENV/bin/python" -c "
from lhg_ros.synthetic import speaker_motion, write_face_video
_, rolls, shifts = speaker_motion(12.0)
write_face_video('$OUT/speaker.mp4', rolls, shifts)"
"$VENV/bin/lhg-ros" head-pose "$OUT/speaker.mp4" -o "$OUT/speaker_poses.npz" \
  --plot "$OUT/speaker_poses.png"
