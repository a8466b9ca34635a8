/**
 * The coverage page: one self-contained HTML file (inline CSS and script, no
 * external assets) that answers "is my kernel covered?". The table is rendered
 * here, so it reads without JavaScript; the script only adds the live search,
 * reading the index embedded in the page (nothing is fetched).
 *
 * Kernel strings, release names and images come from remote data: every value
 * is escaped, the embedded JSON cannot close its script element, and a
 * Content-Security-Policy with the hashes of the page's own style and script
 * keeps any other script from running.
 */
import { createHash } from 'node:crypto';
import type { CoverageBuild, CoverageIndex, CoverageState, KernelCoverage, TargetCoverage, TargetSummary } from './coverage.ts';
import { STATE_MARKS, stateLegend, type StateMark } from './coverage-marks.ts';

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that can sit inside `<script type="application/json">` whatever the strings hold. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const STYLE = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f3f5f7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--fg); background: #fff; }
header, main, footer { padding: 0 24px; }
header { padding-top: 20px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
.lede, .muted { color: var(--muted); }
.lede { margin: 0 0 16px; }
code { font: 0.88em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.summary { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 20px; padding: 0; }
.summary div { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 170px; }
.summary dt { font-weight: 600; }
.summary dd { margin: 2px 0 0; }
.summary .big { font-size: 1.3rem; font-weight: 700; }
.search { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; margin: 0 0 14px; }
.search label { font-weight: 600; }
.search input { font: inherit; padding: 7px 10px; width: min(32rem, 100%); border: 1px solid #8c959f; border-radius: 6px; }
.search input:focus { outline: 3px solid #0969da; outline-offset: 1px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 10px; margin: 0 0 14px; padding: 0; list-style: none; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; padding: 10px 12px; font-weight: 600; }
th, td { text-align: left; vertical-align: top; padding: 8px 12px; border-top: 1px solid var(--line); }
thead th { background: var(--head); font-size: 0.85rem; white-space: nowrap; }
tbody th { font-weight: 400; }
tbody tr:nth-child(even) { background: #fafbfc; }
.kernel code { font-weight: 600; white-space: nowrap; }
.nw { white-space: nowrap; }
td.target { min-width: 13rem; }
.flavours { font-size: 0.82rem; color: var(--muted); }
.releases { max-width: 22rem; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 0.82rem; font-weight: 600; white-space: nowrap; border: 1px solid transparent; }
.ok { background: #dcf3e2; color: #0b5323; border-color: #9ad3aa; }
.busy { background: #fff3c4; color: #5a4300; border-color: #e3c65f; }
.bad { background: #fde1e1; color: #8a1111; border-color: #f0a0a0; }
.missing { background: #ffe9d6; color: #7a3300; border: 1px dashed #c96a1b; }
.na { background: #f1f3f5; color: #57606a; }
.pre { background: #ede4fb; color: #4a2393; border-color: #c4abf0; margin-left: 4px; }
.builds { list-style: none; margin: 4px 0 0; padding: 0; font-size: 0.82rem; }
.builds li + li { margin-top: 2px; }
.img, .detail { font-size: 0.78rem; color: var(--muted); overflow-wrap: anywhere; margin-top: 3px; }
.img code { display: block; }
#empty { padding: 12px; margin: 0; }
footer { padding-top: 16px; padding-bottom: 24px; font-size: 0.85rem; color: var(--muted); }
a { color: #0550ae; }
`;

const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('coverage-data').textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll('#kernels tbody tr'));
  var haystacks = data.kernels.map(function (k) {
    return [k.kernel, k.rtKernel, k.kernel64k].concat(k.releases).filter(Boolean).join('\\n').toLowerCase();
  });
  var form = document.getElementById('search');
  var input = document.getElementById('q');
  var count = document.getElementById('count');
  var empty = document.getElementById('empty');
  function apply() {
    var q = input.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row, i) {
      var hit = q === '' || haystacks[i].indexOf(q) !== -1;
      row.hidden = !hit;
      if (hit) shown++;
    });
    count.textContent = q === '' ? rows.length + ' kernels' : shown + ' of ' + rows.length + ' kernels match';
    empty.hidden = shown > 0;
  }
  form.hidden = false;
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  input.addEventListener('input', function () {
    apply();
    try {
      var url = new URL(location.href);
      if (input.value.trim() === '') url.searchParams.delete('q'); else url.searchParams.set('q', input.value.trim());
      history.replaceState(null, '', url.href);
    } catch (e) { /* a file: URL may refuse; the search still works */ }
  });
  var initial = new URLSearchParams(location.search).get('q');
  if (initial) input.value = initial;
  apply();
})();
`;

const cspHash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const CSP = `default-src 'none'; style-src ${cspHash(STYLE)}; script-src ${cspHash(SCRIPT)}; base-uri 'none'; form-action 'none'`;

const e = escapeHtml;

/** A state's mark and label (coverage-marks.ts, as `status` prints them), coloured by its tone (the CSS classes above). */
function badgeOf({ mark, label, tone }: StateMark, title?: string): string {
  return `<span class="badge ${tone}"${title ? ` title="${e(title)}"` : ''}>${mark} ${e(label.charAt(0).toUpperCase() + label.slice(1))}</span>`;
}

const badge = (state: CoverageState, title?: string): string => badgeOf(STATE_MARKS[state], title);

function imageOf(build: CoverageBuild): string {
  if (!build.image) return '';
  // The full digest is in coverage.json; the page shows enough to compare by eye.
  const digest = build.digest ? `<code title="${e(build.digest)}">@${e(build.digest.length > 19 ? `${build.digest.slice(0, 19)}…` : build.digest)}</code>` : '';
  const signed = [
    build.modulesSignedBy ? `<span title="certificate SHA-256 ${e(build.modulesSignedBy)}">modules signed, cert ${e(build.modulesSignedBy.slice(0, 11))}…</span>` : '',
    build.imageSignedWith ? `<span title="KMS key ${e(build.imageSignedWith)}">image signed</span>` : '',
  ].filter(Boolean);
  return `<div class="img"><code>${e(build.image)}</code>${digest}</div>${signed.length ? `<div class="detail signed">${signed.join(' · ')}</div>` : ''}`;
}

/** The certificate nodes enroll, to download (a data: URL: the page stays one file). */
function certificateLink(name: string, cert: { sha256: string; der: string } | null): string {
  if (!cert) return '';
  return `<br><a class="cert" download="${e(name)}-module-signing.der" href="data:application/pkix-cert;base64,${e(cert.der)}" title="SHA-256 ${e(cert.sha256)}">module signing certificate</a>`;
}

function targetCell(target: TargetCoverage, name: string): string {
  const [only] = target.builds;
  if (target.builds.length <= 1) {
    const detail = only?.detail && (only.state === 'failed' || only.state === 'simulated') ? `<div class="detail">${e(only.detail)}</div>` : '';
    return `<td class="target" data-target="${e(name)}" data-state="${e(target.state)}">${badge(target.state, only?.detail ?? undefined)}${only ? imageOf(only) : ''}${detail}</td>`;
  }
  const items = target.builds.map((b) => `<li>${e(b.flavour)}: ${badge(b.state, b.detail ?? undefined)}${imageOf(b)}</li>`);
  return `<td class="target" data-target="${e(name)}" data-state="${e(target.state)}">${badge(target.state)}<ul class="builds">${items.join('')}</ul></td>`;
}

function dateOf(iso: string): string {
  return /^\d{4}-\d{2}-\d{2}/.test(iso) ? `<time class="nw" datetime="${e(iso)}">${e(iso.slice(0, 10))}</time>` : e(iso);
}

function timeOf(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return m ? `<time datetime="${e(iso)}">${m[1]} ${m[2]} UTC</time>` : e(iso);
}

function kernelRow(k: KernelCoverage, drivers: readonly string[]): string {
  const flavours = [k.rtKernel ? `RT <code>${e(k.rtKernel)}</code>` : '', k.kernel64k ? `64k <code>${e(k.kernel64k)}</code>` : ''].filter(Boolean);
  const list = (values: readonly string[]) => values.map((v) => `<span class="nw">${e(v)}</span>`).join(', ');
  const releases = k.releases.length ? list(k.releases) : '<span class="muted">none recorded</span>';
  const channels = k.channels.length ? `<div class="flavours">Channels: ${list(k.channels)}</div>` : '';
  return [
    '<tr>',
    `<th scope="row" class="kernel"><code>${e(k.kernel)}</code>${k.prerelease ? '<span class="badge pre">Pre-release</span>' : ''}`,
    flavours.length ? `<div class="flavours">${flavours.join('<br>')}</div>` : '',
    '</th>',
    `<td>${e(k.arch)}</td>`,
    `<td>${k.rhelVersion ? e(k.rhelVersion) : '<span class="muted">–</span>'}</td>`,
    `<td class="releases">${releases}${channels}</td>`,
    `<td>${dateOf(k.firstSeenAt)}</td>`,
    targetCell(k.dtk, 'dtk'),
    ...drivers.map((d) => targetCell(k.drivers[d] ?? { state: 'not-matching', matches: false, covered: false, builds: [] }, d)),
    '</tr>',
  ].join('');
}

function summaryItem(title: string, s: TargetSummary): string {
  const parts = [s.failed ? `${s.failed} failed` : '', s.building ? `${s.building} building` : '', s.simulated ? `${s.simulated} simulated (not built)` : '', s.notBuilt ? `${s.notBuilt} not built` : ''].filter(Boolean);
  return [
    `<div><dt>${title}</dt>`,
    `<dd><span class="big">${s.covered}</span> of ${s.matching} covered</dd>`,
    `<dd>${s.missing ? `${s.missing} missing${parts.length ? ` (${parts.join(', ')})` : ''}` : 'nothing missing'}</dd></div>`,
  ].join('');
}

/** The whole page, with the index embedded. */
export function renderCoveragePage(index: CoverageIndex): string {
  const drivers = index.drivers.map((d) => d.name);
  const driverHeads = index.drivers.map((d) => `<th scope="col" title="${e(d.repository)}">${e(d.name)}<br><span class="muted">driver, version ${e(d.version)}</span>${certificateLink(d.name, d.moduleCertificate)}</th>`);
  const summary = [
    `<div><dt>Kernels</dt><dd><span class="big">${index.summary.kernels}</span> recorded</dd><dd>${index.summary.prerelease} pre-release</dd></div>`,
    summaryItem('Driver Toolkit', index.summary.dtk),
    ...index.drivers.map((d) => summaryItem(`${e(d.name)} <span class="muted">driver</span>`, index.summary.drivers[d.name]!)),
  ];
  const legend = stateLegend(Object.keys(STATE_MARKS) as CoverageState[]).map((m) => `<li>${badgeOf(m)}</li>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>Driver Toolkit and driver coverage</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>Is my kernel covered?</h1>
<p class="lede">Driver Toolkit (DTK) and partner driver images built for each RHCOS kernel of OpenShift. Generated ${timeOf(index.generatedAt)}.</p>
</header>
<main>
<dl class="summary">${summary.join('')}</dl>
<form id="search" class="search" role="search" hidden>
<label for="q">Find a kernel or OpenShift release</label>
<input id="q" type="search" autocomplete="off" spellcheck="false" placeholder="e.g. 5.14.0-427 or 4.18.14" aria-describedby="count">
<span id="count" class="muted" role="status" aria-live="polite"></span>
</form>
<ul class="legend" aria-label="Legend">${legend.join('')}</ul>
<div class="table-wrap">
<table id="kernels">
<caption>Kernels, newest first</caption>
<thead><tr><th scope="col">Kernel</th><th scope="col">Arch</th><th scope="col">RHEL</th><th scope="col">OpenShift releases</th><th scope="col">First seen</th><th scope="col">DTK image</th>${driverHeads.join('')}</tr></thead>
<tbody>
${index.kernels.map((k) => kernelRow(k, drivers)).join('\n')}
</tbody>
</table>
<p id="empty" hidden>No kernel or release matches your search.</p>
</div>
</main>
<footer>
<p>Machine-readable: <a href="coverage.json">coverage.json</a> (schema <code>${e(index.schema)}</code>). Built means this pipeline pushed the image; Already pushed means it existed before.</p>
</footer>
<script type="application/json" id="coverage-data">${embedJson(index)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
