// vega-interpreter imports three vega-util functions; the vega bundle (a global) has them.
const v = globalThis.vega;
export const ascending = v.ascending;
export const isString = v.isString;
export const DisallowedObjectProperties = v.DisallowedObjectProperties;
