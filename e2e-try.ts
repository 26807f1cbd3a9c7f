import { benchEndToEnd } from './tools/bench/end-to-end.ts';
for (let i = 0; i < 2; i++) { try { const rows = await benchEndToEnd([10000], (l) => console.error(l)); console.log(JSON.stringify(rows)); } catch (e) { console.error('FAILED', e); } }
