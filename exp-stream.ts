import { readFileSync, mkdirSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createBrotliDecompress } from 'node:zlib';
import { extract } from 'tar';
import { PGlite } from '@electric-sql/pglite';
import { pgliteOptions } from '/work/main/functions/lib/store/pglite-memory.ts';
import { createFromTemplate, templateFit } from '/work/main/functions/lib/store/pglite-template.ts';
const mem = (l: string) => { const s = readFileSync('/proc/self/status','utf8'); const g=(k:string)=>Number(new RegExp(`^${k}:\\s+(\\d+)`,'m').exec(s)![1])/1024|0; console.log(l.padEnd(20), 'rss', g('VmRSS'), 'hwm', g('VmHWM')); };
mem('start');
const dir = '/tmp/exp/st-' + Date.now();
const fit = templateFit(); if (!fit.fits) throw 1;
if (process.argv[2] === 'stream') {
  mkdirSync(dir);
  await pipeline(Readable.from([readFileSync('/work/main/functions/lib/store/pglite-template.tar.br')]), createBrotliDecompress(), extract({ cwd: dir, noMtime: true, preserveOwner: false }));
} else createFromTemplate(dir, fit.manifest);
mem('extracted');
const db = new PGlite(dir, pgliteOptions()); await db.waitReady; mem('open');
