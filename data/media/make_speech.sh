#!/usr/bin/env bash
# Makes data/media/speech.wav: one English sentence spoken by espeak-ng, 16 kHz mono 16-bit PCM WAV.
# Run ONCE by hand (needs Debian's espeak-ng: apt-get update && apt-get install -y espeak-ng); the
# result is committed and the library only reads it (CI has no espeak-ng).
# The sentence below is the ground truth; it must match SPEECH_TEXT in lib/workbench/samples.py.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
sentence="Please send the final invoice to the finance team before Friday afternoon."

ffmpeg="$("$python" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')"
tmp="$(mktemp --suffix=.wav)"
trap 'rm -f "$tmp"' EXIT

# en-us voice, 150 words per minute, default pitch; espeak-ng writes 22.05 kHz mono.
espeak-ng -v en-us -s 150 -w "$tmp" "$sentence"
# Resample to 16 kHz mono 16-bit PCM (what Whisper consumes), no metadata, bit-exact output.
"$ffmpeg" -hide_banner -loglevel error -y -i "$tmp" -ac 1 -ar 16000 -c:a pcm_s16le \
  -map_metadata -1 -fflags +bitexact -flags:a +bitexact "$here/speech.wav"

espeak-ng --version
sha256sum "$here/speech.wav"
