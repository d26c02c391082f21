// The map page: boundaries and a layer of released values from the JSON API, drawn with
// MapLibre GL JS from the home's own boundaries (no tiles needed); suppressed places hatched.

const cfg = JSON.parse(document.getElementById('map-config').textContent);
const maplibregl = globalThis.maplibregl;
maplibregl.setWorkerUrl('/static/vendor/maplibre-gl-csp-worker.js');

// the Analysis Function sequential palette, light to dark (as vru.service.charts)
const SEQ = ['#C5DCF2', '#6BACE6', '#2073BC', '#12436D'];
const GISTAR = { 3: '#801650', 2: '#B5487A', 1: '#E7A1BE', 0: '#F3F2F1', '-1': '#A9C4E0',
  '-2': '#4F82BA', '-3': '#12436D' };
const EMERGING = { 0: '#F3F2F1', 1: '#801650', 2: '#A8325E', 3: '#C94F7C', 4: '#E7A1BE', 5: '#F46A25', 6: '#FDB280', 7: '#7A3B00', 8: '#D6668F',
  '-1': '#12436D', '-2': '#2E6AA6', '-3': '#4F82BA', '-4': '#6A9BCB', '-5': '#28A197', '-6': '#8CD3CB', '-7': '#3D3D3D', '-8': '#A285D1' };
const OUTLINE = '#3D3D3D';
const filterQuery = new URLSearchParams(cfg.query);
for (const k of ['layer', 'cell', 'geometry']) filterQuery.delete(k);

function style() {
  const s = { version: 8, sources: {}, layers: [
    { id: 'background', type: 'background', paint: { 'background-color': '#FBFBFB' } }] };
  if (cfg.tileUrl) {
    s.sources.tiles = { type: 'raster', tiles: [cfg.tileUrl], tileSize: 256 };
    s.layers.push({ id: 'tiles', type: 'raster', source: 'tiles', paint: { 'raster-opacity': 0.6 } });
  }
  return s;
}

function fillColour() {
  if (cfg.layer === 'gistar') {
    return ['match', ['to-string', ['get', 'value']], ...Object.entries(GISTAR).flat(), '#F3F2F1'];
  }
  if (cfg.layer === 'emerging') {
    return ['match', ['to-string', ['get', 'value']], ...Object.entries(EMERGING).flat(), '#F3F2F1'];
  }
  const steps = ['step', ['coalesce', ['get', 'value'], -1], 'rgba(0,0,0,0)'];
  cfg.legend.forEach((c, i) => {
    steps.push(i === 0 ? -0.5 : c.low, SEQ[c.shade]);
  });
  return steps;
}

function hatch() {
  const size = 8;
  const c = document.createElement('canvas');
  c.width = size; c.height = size;
  const ctx = c.getContext('2d');
  ctx.strokeStyle = OUTLINE; ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(0, size); ctx.lineTo(size, 0); ctx.stroke();
  return { width: size, height: size, data: ctx.getImageData(0, 0, size, size).data };
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: 'same-origin' });
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).detail || r.statusText);
  return r.json();
}

function placeCell(id) {
  if (cfg.layer === 'rate' || (cfg.layer === 'gistar' && cfg.cell === 'lsoa')) return ['lsoa', id];
  const m = /^(\d+)m:(-?\d+):(-?\d+)$/.exec(id);
  if (m) {
    const size = Number(m[1]);
    return [`grid:${size}`, `${Number(m[2]) * size}_${Number(m[3]) * size}`];
  }
  return [cfg.cell, id];
}

function cellText(v) { return v === null || v === undefined ? '*' : Number(v).toLocaleString('en-GB'); }

async function showPlace(id, label) {
  const panel = document.getElementById('detail');
  const body = document.getElementById('detail-body');
  const [cell, place] = placeCell(id);
  const q = new URLSearchParams(filterQuery);
  q.set('id', place); q.set('cell', cell);
  panel.hidden = false;
  document.getElementById('detail-title').textContent = label || id;
  body.textContent = 'loading…';
  try {
    const d = await getJSON(`/api/place?${q}`);
    body.textContent = '';
    const p = document.createElement('p');
    p.textContent = `Events in the period: ${cellText(d.total)}. ${d.note}`;
    body.append(p);
    const t = document.createElement('table');
    t.className = 'data compact';
    t.innerHTML = '<caption>Events per month</caption><thead><tr><th scope="col">month</th><th scope="col" class="num">events</th></tr></thead>';
    const tb = document.createElement('tbody');
    for (const r of d.months) {
      const tr = document.createElement('tr');
      const th = document.createElement('th'); th.scope = 'row'; th.textContent = r.month;
      const td = document.createElement('td'); td.className = 'num'; td.textContent = cellText(r.n);
      tr.append(th, td); tb.append(tr);
    }
    t.append(tb); body.append(t);
    if (d.times.length) {
      const top = [...d.times].filter((r) => r.n !== null).sort((a, b) => b.n - a.n).slice(0, 5);
      const tp = document.createElement('p');
      tp.textContent = 'Busiest times: ' + (top.map((r) => `${r.weekday} ${String(r.hour).padStart(2, '0')}:00 (${cellText(r.n)})`).join(', ') || 'all suppressed');
      body.append(tp);
    }
    const chart = document.getElementById('detail-chart');
    if (d.months.length) {
      const { draw } = await import('./charts.js');  // vega only when a place is opened
      draw(chart, d.chart);
    }
    panel.focus?.();
  } catch (err) {
    body.textContent = err.message;
  }
}

function addLayers(map, data, districts, areas, places) {
  map.addImage('hatch', hatch());
  map.addSource('layer', { type: 'geojson', data, maxzoom: 14 });
  map.addLayer({ id: 'fill', type: 'fill', source: 'layer',
    filter: ['!=', ['get', 'suppressed'], true],
    paint: { 'fill-color': fillColour(), 'fill-opacity': 0.9, 'fill-outline-color': OUTLINE } });
  map.addLayer({ id: 'suppressed', type: 'fill', source: 'layer',
    filter: ['==', ['get', 'suppressed'], true], paint: { 'fill-pattern': 'hatch' } });
  map.addSource('districts', { type: 'geojson', data: districts });
  map.addLayer({ id: 'districts', type: 'line', source: 'districts',
    paint: { 'line-color': '#0B0C0C', 'line-width': 1.2 } });
  if (areas) {
    map.addSource('areas', { type: 'geojson', data: areas });
    map.addLayer({ id: 'areas', type: 'line', source: 'areas',
      paint: { 'line-color': '#0B0C0C', 'line-width': 2.2, 'line-dasharray': [2, 1] } });
  }
  for (const p of places) {
    const el = document.createElement('div');
    el.className = 'town';
    el.textContent = p.name;
    el.setAttribute('aria-hidden', 'true');
    new maplibregl.Marker({ element: el }).setLngLat([p.lon, p.lat]).addTo(map);
  }
  map.once('idle', () => {
    document.body.dataset.mapReady = '1';
    globalThis.__vruMapDrawn = performance.now();
  });
}

async function main() {
  const mapEl = document.getElementById('map');
  // the map (and its worker) starts while the data are fetched: bounds come with the page
  const b = cfg.bbox;
  const map = new maplibregl.Map({
    container: mapEl, style: style(), bounds: [[b[0], b[1]], [b[2], b[3]]],
    fitBoundsOptions: { padding: 10 }, attributionControl: false, fadeDuration: 0,
    canvasContextAttributes: { preserveDrawingBuffer: true, antialias: false },
    preserveDrawingBuffer: true,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.addControl(new maplibregl.AttributionControl({ compact: true,
    customAttribution: 'Boundaries: ONS, OGL v3.0; contains OS data © Crown copyright' }));
  const loaded = new Promise((resolve) => map.on('load', resolve));
  const [layer, lsoa, districts, areas, places] = await Promise.all([
    getJSON(cfg.api),
    cfg.layer === 'rate' ? getJSON(`/api/boundaries/lsoa?${filterQuery}`) : null,
    getJSON(`/api/boundaries/district?${filterQuery}`),
    getJSON(`/api/boundaries/area?${filterQuery}`).catch(() => null),
    getJSON(`/api/places?${filterQuery}`).catch(() => []),
  ]);
  let data;
  if (cfg.layer === 'rate') {
    const byId = new Map(layer.rows.map((r) => [r.id, r]));
    data = { type: 'FeatureCollection', features: lsoa.features.map((f) => ({
      type: 'Feature', id: f.id, geometry: f.geometry,
      properties: { ...(byId.get(f.id) || { id: f.id, label: f.id, value: null, suppressed: true }) } })) };
  } else {
    data = { type: 'FeatureCollection', features: layer.features };
  }
  await loaded;
  addLayers(map, data, districts, areas, places);
  map.on('click', 'fill', (e) => showPlace(e.features[0].properties.id, e.features[0].properties.label));
  map.on('click', 'suppressed', (e) => showPlace(e.features[0].properties.id, e.features[0].properties.label));
  map.on('mouseenter', 'fill', () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', 'fill', () => { map.getCanvas().style.cursor = ''; });
  for (const btn of document.querySelectorAll('button.place')) {
    btn.addEventListener('click', () => showPlace(btn.dataset.id, btn.textContent));
  }
}

main().catch((err) => {
  const el = document.getElementById('map');
  el.textContent = `The map could not be drawn: ${err.message}. The table below holds the same values.`;
  document.body.dataset.mapReady = 'error';
});
