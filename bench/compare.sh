#!/usr/bin/env bash
# `make bench`: imgpipe against sharp and libvips on one core, in the same run, on the corpus's
# biggest photos and on 12 MP and 24 MP JPEGs made here; then against Pillow + pillow-heif on a
# 12 MP HEIC and a 12 MP AVIF made here and on a real iPhone HEIC. sharp comes from npm and pyvips,
# Pillow and pillow-heif from PyPI into bench/.peers (git-ignored); libvips itself from Debian
# (apt, when it is missing). Prints two tables, then the functions' init time, then the quality
# table of JPEG encoders (bench/quality); nothing here is a test. REPS runs per process (7),
# ROUNDS rounds of every tool (3).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
peers="$root/bench/.peers"
reps="${REPS:-7}"
rounds="${ROUNDS:-3}"
corpus="${CORPUS:-$root/../shared/corpus/exif-samples/jpg}"
pin=(taskset -c 0)
command -v taskset >/dev/null || pin=()

mkdir -p "$peers/inputs"
if [ ! -d "$peers/node_modules/sharp" ]; then
  echo "installing sharp into $peers ..."
  npm install --prefix "$peers" --no-audit --no-fund --silent sharp@0.35 >/dev/null
fi
if ! ldconfig -p | grep -q 'libvips\.so\.42'; then
  echo "installing libvips from Debian ..."
  apt_get=(apt-get); [ "$(id -u)" -eq 0 ] || apt_get=(sudo apt-get)
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q libvips42 >/dev/null
fi
# (Re)installed whenever a pin below differs from what the venv has.
py_pins=(pyvips==2.2.3 pillow==13.0.0 pillow-heif==1.8.1)
if ! "$peers/venv/bin/python" - "${py_pins[@]}" 2>/dev/null <<'PY'
import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (pin.split("==") for pin in sys.argv[1:])))
PY
then
  echo "installing ${py_pins[*]} into $peers/venv ..."
  [ -x "$peers/venv/bin/python" ] || python3 -m venv "$peers/venv"
  "$peers/venv/bin/pip" install -q "${py_pins[@]}"
fi
# ES modules resolve packages next to the script, so the script runs from beside node_modules.
cp "$root/bench/sharp-bench.mjs" "$peers/sharp-bench.mjs"
"$root/infra/local/build-tools.sh"
echo "building imgpipe (profile local) ..."
cargo build --quiet --profile local --bins --manifest-path "$root/Cargo.toml"
imgpipe="$root/target/local/imgpipe"

inputs=()
for f in "$corpus/tests/42_IndexError.jpg" "$corpus/mobile/HMD_Nokia_8.3_5G.jpg" "$corpus/hdr/iphone_hdr_NO.jpg"; do
  [ -f "$f" ] && inputs+=("$f")
done
# 12 MP and 24 MP camera-like JPEGs, made once from the largest corpus photo.
if [ ! -f "$peers/inputs/24mp.jpg" ] && [ -f "$corpus/tests/42_IndexError.jpg" ]; then
  (cd "$peers" && node --input-type=module -e "
    import sharp from 'sharp';
    const src = process.argv[1];
    await sharp(src).resize(4000, 3000, {fit: 'fill'}).jpeg({quality: 90}).toFile('inputs/12mp.jpg');
    await sharp(src).resize(6000, 4000, {fit: 'fill'}).jpeg({quality: 90}).toFile('inputs/24mp.jpg');
  " "$corpus/tests/42_IndexError.jpg")
fi
for f in "$peers/inputs/12mp.jpg" "$peers/inputs/24mp.jpg"; do [ -f "$f" ] && inputs+=("$f"); done
# A 12 MP HEIC (pillow-heif, grid of 512x512 tiles like an iPhone's) and a 12 MP AVIF (Pillow's
# encoder), made once from the same photo at its own 4032x3024, one thread (about half a minute).
if [ ! -f "$peers/inputs/12mp.avif" ] && [ -f "$corpus/tests/42_IndexError.jpg" ]; then
  echo "making the 12 MP HEIC and AVIF inputs ..."
  "${pin[@]}" "$peers/venv/bin/python" "$root/bench/heif-inputs.py" "$corpus/tests/42_IndexError.jpg" "$peers/inputs"
fi
heif_inputs=()
for f in "$peers/inputs/12mp.heic" "$peers/inputs/12mp.avif" "$root/fixtures/heif/iphone.heic"; do
  [ -f "$f" ] && heif_inputs+=("$f")
done

# imgpipe's row for one file: its line for the file, with the summary's peak RSS.
imgpipe_row() {
  "${pin[@]}" "$imgpipe" bench --reps "$reps" "$1" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
row = lines[0]; row["peak_rss_mb"] = lines[-1]["peak_rss_mb"]; row["tool"] = "imgpipe"
print(json.dumps(row))'
}

# Every tool runs on every file once per round, the rounds one after another, and each table
# cell is the median of the rounds' medians: on a shared machine a slow minute then lands on
# every tool in turn rather than on one of them alone.
results="$peers/results.jsonl"
heif_results="$peers/results-heif.jsonl"
: > "$results"
: > "$heif_results"
for round in $(seq "$rounds"); do
  for f in "${inputs[@]}"; do
    echo "measuring $(basename "$f") (round $round of $rounds) ..."
    # One process per file, so that each peak RSS belongs to that file alone.
    imgpipe_row "$f" >> "$results"
    for mode in per-variant decode-once; do
      (cd "$peers" && "${pin[@]}" node sharp-bench.mjs "$f" "$reps" "$mode") \
        | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["tool"]="sharp "+r["mode"]; print(json.dumps(r))' >> "$results"
    done
    "${pin[@]}" "$peers/venv/bin/python" "$root/bench/vips-bench.py" "$f" "$reps" \
      | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["tool"]="vips"; print(json.dumps(r))' >> "$results"
  done
  # HEIC and AVIF: imgpipe and Pillow + pillow-heif (HEIC) / Pillow's AVIF plugin (AVIF; the
  # peer says which library decoded). sharp and Debian's libvips are left out here.
  for f in "${heif_inputs[@]}"; do
    echo "measuring $(basename "$f") (round $round of $rounds) ..."
    imgpipe_row "$f" >> "$heif_results"
    "${pin[@]}" "$peers/venv/bin/python" "$root/bench/heif-peer.py" "$f" "$reps" \
      | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["tool"]="pillow"; print(json.dumps(r))' >> "$heif_results"
  done
done

python3 - "$results" "$heif_results" "$rounds" <<'PY'
import json, os, statistics, sys

def merged(rows):
    """One row from a tool's rounds on a file: the median of each timing, the highest RSS."""
    row = dict(rows[0])
    for key, value in rows[0].items():
        if key.endswith("_ms"):
            row[key] = statistics.median(r[key] for r in rows)
        elif key == "peak_rss_mb":
            row[key] = max(r[key] for r in rows)
    return row

def by_file_and_tool(path):
    grouped = {}
    for r in (json.loads(l) for l in open(path)):
        grouped.setdefault(r["file"], {}).setdefault(r["tool"], []).append(r)
    return {f: {t: merged(rs) for t, rs in tools.items()} for f, tools in grouped.items()}

by_file = by_file_and_tool(sys.argv[1])
rounds = sys.argv[3]
print()
print(f"one core ({os.uname().machine}), median of {rounds} rounds' medians, 3 JPEG variants (1600/800 inside, 200 cover), orientation applied")
head = ["file", "MP", "imgpipe ms", "sharp ms", "ratio", "sharp decode-once ms", "ratio", "vips ms", "ratio",
        "imgpipe RSS MB", "sharp RSS MB", "vips RSS MB"]
table = [head]
for file, tools in by_file.items():
    i, s, d, v = tools["imgpipe"], tools["sharp per-variant"], tools["sharp decode-once"], tools["vips"]
    ratio = lambda peer: f"{i['median_ms'] / peer['median_ms']:.2f}x"
    table.append([os.path.basename(file), f"{i['megapixels']:.1f}", f"{i['median_ms']:.0f}",
                  f"{s['median_ms']:.0f}", ratio(s), f"{d['median_ms']:.0f}", ratio(d), f"{v['median_ms']:.0f}", ratio(v),
                  f"{i['peak_rss_mb']:.0f}", f"{s['peak_rss_mb']:.0f}", f"{v['peak_rss_mb']:.0f}"])
widths = [max(len(r[c]) for r in table) for c in range(len(head))]
for n, r in enumerate(table):
    print(" | ".join(v.ljust(widths[c]) for c, v in enumerate(r)))
    if n == 0:
        print("-|-".join("-" * w for w in widths))

# HEIC/AVIF: decode ms is imgpipe's decode phase (median over the runs) and, for the peer, the
# median of as many separate decode-only runs.
by_file = by_file_and_tool(sys.argv[2])
if by_file:
    print()
    print(f"HEIC/AVIF, one core, median of {rounds} rounds' medians, the same 3 variants; peer: Pillow +"
          " pillow-heif (HEIC), Pillow's AVIF plugin (AVIF)")
    head = ["file", "MP", "imgpipe ms", "imgpipe decode ms", "peer ms", "peer decode ms", "ratio",
            "imgpipe RSS MB", "peer RSS MB"]
    table = [head]
    notes = {}
    for file, tools in by_file.items():
        i, p = tools["imgpipe"], tools["pillow"]
        notes.setdefault(p["format"], p["decoder"])
        if "rejected" in i:
            notes[os.path.basename(file)] = f"imgpipe rejected it: {i['rejected']}"
            cells = ["rejected", "-", f"{p['median_ms']:.0f}", f"{p['decode_ms']:.0f}", "-", "-"]
        else:
            cells = [f"{i['median_ms']:.0f}", f"{i['decode_ms']:.0f}", f"{p['median_ms']:.0f}",
                     f"{p['decode_ms']:.0f}", f"{i['median_ms'] / p['median_ms']:.2f}x",
                     f"{i['peak_rss_mb']:.0f}"]
        table.append([os.path.basename(file), f"{p['megapixels']:.1f}", *cells, f"{p['peak_rss_mb']:.0f}"])
    widths = [max(len(r[c]) for r in table) for c in range(len(head))]
    for n, r in enumerate(table):
        print(" | ".join(v.ljust(widths[c]) for c, v in enumerate(r)))
        if n == 0:
            print("-|-".join("-" * w for w in widths))
    for what, note in notes.items():
        print(f"{what}: {note}")
PY

echo
echo "init time (process start to the first request for work), profile local, pinned to one core:"
"${pin[@]}" python3 "$root/bench/init_time.py" --runs 20 "$root/target/local/process-upload" "$root/target/local/metadata-api"

# The quality table (bench/quality): bytes at equal SSIMULACRA2 for libjpeg-turbo and jpegli
# settings, and the pipeline's own encoder, on its own variants of the corpus's largest photos.
# About 10 minutes: every candidate is scored at six qualities. QUALITY=0 skips it.
if [ "${QUALITY:-1}" != 0 ]; then
  echo
  echo "building imgpipe-quality (profile local) ..."
  cargo build --quiet --profile local -p imgpipe-quality --manifest-path "$root/Cargo.toml"
  quality_inputs=()
  for f in "$corpus/mobile/HMD_Nokia_8.3_5G.jpg" "$corpus/mobile/jolla.jpg" "$corpus/hdr/iphone_hdr_YES.jpg" \
           "$corpus/hdr/canon_hdr_YES.jpg" "$corpus/Reconyx_HC500_Hyperfire.jpg"; do
    [ -f "$f" ] && quality_inputs+=("$f")
  done
  echo "scoring JPEG encoders on ${#quality_inputs[@]} photos (SSIMULACRA2; one core) ..."
  "${pin[@]}" "$root/target/local/imgpipe-quality" --reps 3 "${quality_inputs[@]}"
fi
