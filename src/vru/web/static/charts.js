// Draws Vega-Lite specs with vega-embed, evaluating expressions with vega-interpreter (no
// eval, so the Content-Security-Policy needs no 'unsafe-eval').
import { expressionInterpreter } from './vendor/vega-interpreter.js';

export function draw(el, spec) {
  return globalThis.vegaEmbed(el, spec, {
    renderer: 'canvas', actions: false, ast: true, expr: expressionInterpreter,
    defaultStyle: false, tooltip: false,
  }).then((result) => { el.dataset.drawn = '1'; return result; })
    .catch((err) => { el.textContent = `chart not drawn: ${err.message}`; });
}

const block = document.getElementById('chart-specs');
if (block) {
  const specs = JSON.parse(block.textContent);
  for (const el of document.querySelectorAll('[data-spec]')) {
    if (specs[el.dataset.spec]) draw(el, specs[el.dataset.spec]);
  }
}
