export const PROBE_WORD = 'probe-ran';
