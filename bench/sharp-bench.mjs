// The peer: the same three variants with sharp (libvips) on one thread, timed like
// `imgpipe bench`. Modes: `per-variant` (one pipeline per variant, as most sharp users and the
// Serverless Image Handler do) and `decode-once` (decode and orient once, resize the raw
// pixels three times: the strongest sharp user).
import fs from "node:fs";
import sharp from "sharp";

sharp.concurrency(1);
sharp.cache(false);

const [file, repsText, mode] = process.argv.slice(2);
const reps = Number(repsText);
const input = fs.readFileSync(file);
const variants = [
  { width: 1600, height: 1600, fit: "inside", quality: 82 },
  { width: 800, height: 800, fit: "inside", quality: 82 },
  { width: 200, height: 200, fit: "cover", quality: 80 },
];
const resize = (v) => ({ width: v.width, height: v.height, fit: v.fit, withoutEnlargement: true });

async function perVariant() {
  for (const v of variants) {
    await sharp(input).rotate().resize(resize(v)).jpeg({ quality: v.quality, mozjpeg: false }).toBuffer();
  }
}

async function decodeOnce() {
  const { data, info } = await sharp(input).rotate().raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  for (const v of variants) {
    await sharp(data, { raw }).resize(resize(v)).jpeg({ quality: v.quality }).toBuffer();
  }
}

const run = mode === "decode-once" ? decodeOnce : perVariant;
await run(); // warm-up
const times = [];
for (let i = 0; i < reps; i++) {
  const started = process.hrtime.bigint();
  await run();
  times.push(Number(process.hrtime.bigint() - started) / 1e6);
}
times.sort((a, b) => a - b);
const mid = Math.floor(times.length / 2);
const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
console.log(JSON.stringify({
  file, mode, reps,
  median_ms: Math.round(median * 100) / 100,
  min_ms: Math.round(times[0] * 100) / 100,
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024 * 100) / 100,
}));
