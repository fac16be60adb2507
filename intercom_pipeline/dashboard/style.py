"""The page's stylesheet, inlined: readable on a screen, clean on paper, no web font."""

CSS = """
:root { color-scheme: light; --ink: #111827; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f9fafb; }
header, main { max-width: 1240px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
h2.workspace { font-size: 20px; border-bottom: 2px solid var(--ink); }
.meta, .lead, .note { color: var(--muted); margin: 0 0 8px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: 10px; margin-top: 16px; }
section .tiles { margin: 8px 0 14px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.tile .figure { display: block; font-size: 22px; font-weight: 600; }
.tile .caption { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg { width: 100%; height: auto; display: block; }
svg text { font-size: 11px; fill: var(--muted); }
svg text.label { fill: var(--ink); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .line { stroke-width: 1.8; }
svg circle:hover, svg rect:hover { opacity: .7; }
.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap;
  gap: 4px 14px; font-size: 12px; color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.status.success { color: #047857; font-weight: 600; }
td.status.failure { color: #b91c1c; font-weight: 600; }
@media print {
  body { background: #fff; font-size: 12px; }
  figure, .tile { border-color: #d1d5db; }
  section { break-inside: avoid-page; }
  svg circle:hover, svg rect:hover { opacity: 1; }
}
"""
