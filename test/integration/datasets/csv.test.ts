import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CsvRecords } from '../../../src/infra/datasets/formats/csv/csv-records.js';
import { Utf8Text } from '../../../src/infra/datasets/formats/csv/utf8-text.js';
import { decodeBoth } from '../../helpers/dataset-assertions.js';
import { csv, uploadDir } from '../../helpers/dataset-builders.js';

type Upload = Awaited<ReturnType<typeof uploadDir>>;

/** Every (features, label) pair of both splits, as sorted strings: what a split cannot change. */
function samples(d: Awaited<ReturnType<typeof decodeBoth>>): string[] {
  const f = d.inputShape[0];
  const rows = (s: typeof d.train) =>
    Array.from(
      { length: s.count },
      (_, i) =>
        `${Array.from(s.x.subarray(i * f, (i + 1) * f)).join(' ')} -> ${d.classNames[s.y[i]]}`,
    );
  return [...rows(d.train), ...rows(d.test)].sort();
}

describe('CSV uploads', () => {
  let up: Upload;
  before(async () => {
    up = await uploadDir();
  });
  after(async () => {
    await up.cleanup();
  });

  it('reads string labels with quotes, CRLF and a byte-order mark', async () => {
    const rows: (string | number)[][] = [];
    for (let i = 0; i < 10; i++) rows.push([i, -i / 4, i % 2 ? 'setosa, "wild"' : 'versicolor']);
    const path = await up.write(
      'iris.csv',
      csv(['sepal length', 'petal,width', 'label'], rows, { eol: '\r\n', bom: true }),
    );
    const d = await decodeBoth(path, { format: 'csv' });
    assert.equal(d.format, 'csv');
    assert.equal(d.dtype, 'float32');
    assert.deepEqual(d.inputShape, [2]);
    assert.deepEqual(d.classNames, ['setosa, "wild"', 'versicolor']);
    assert.deepEqual(d.counts, { train: [4, 4], test: [1, 1] });
    const expected = rows.map(([a, b, l]) => `${a} ${b} -> ${l}`).sort();
    assert.deepEqual(samples(d), expected);
  });

  it('sorts numeric labels numerically, takes the label column anywhere by name, quoted numbers and blank lines', async () => {
    const lines = ['id,target,x'];
    for (let i = 0; i < 12; i++) lines.push(`${i},${[10, 2, 1][i % 3]},"${i * 1.5}"`);
    lines.splice(4, 0, '');
    const path = await up.write('numeric.csv', `${lines.join('\n')}\n\n`);
    const d = await decodeBoth(path, { labelColumn: 'target' });
    assert.deepEqual(d.classNames, ['1', '2', '10']);
    assert.deepEqual(d.inputShape, [2]);
    assert.deepEqual(
      samples(d),
      Array.from({ length: 12 }, (_, i) => `${i} ${i * 1.5} -> ${[10, 2, 1][i % 3]}`).sort(),
    );
  });

  it('reads gzip-compressed CSV and splits by seed', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => [i, i * 2, ['a', 'b', 'c'][i % 3]]);
    const path = await up.write('data.csv.gz', gzipSync(csv(['f1', 'f2', 'label'], rows)));
    const a = await decodeBoth(path, { seed: 1 });
    assert.deepEqual(a.counts, { train: [8, 8, 8], test: [2, 2, 2] });
    assert.deepEqual(
      Array.from((await decodeBoth(path, { seed: 1 })).test.x),
      Array.from(a.test.x),
    );
    assert.notDeepEqual(
      Array.from((await decodeBoth(path, { seed: 2 })).test.x),
      Array.from(a.test.x),
    );
  });
});

describe('CSV records (RFC 4180)', () => {
  function parse(pieces: string[]): [string[], number][] {
    const out: [string[], number][] = [];
    const records = new CsvRecords((fields, row) => out.push([fields, row]));
    for (const p of pieces) records.push(p);
    records.end();
    return out;
  }

  it('splits quoted fields, doubled quotes and line breaks inside quotes, whatever the chunking', () => {
    const text = 'a,"b,1","say ""hi"""\r\n"multi\nline",,x\r\nlast,"",end';
    const expected: [string[], number][] = [
      [['a', 'b,1', 'say "hi"'], 1],
      [['multi\nline', '', 'x'], 2],
      [['last', '', 'end'], 3],
    ];
    assert.deepEqual(parse([text]), expected);
    // Any cut, including between \r and \n and between the two quotes of "".
    for (let cut = 1; cut < text.length; cut++)
      assert.deepEqual(parse([text.slice(0, cut), text.slice(cut)]), expected, `cut at ${cut}`);
    assert.deepEqual(parse(text.split('')), expected);
  });

  it('skips blank lines but counts them, and ends a last line without a line break', () => {
    assert.deepEqual(parse(['h1,h2\n\n1,2\r\n\r\n3,4']), [
      [['h1', 'h2'], 1],
      [['1', '2'], 3],
      [['3', '4'], 5],
    ]);
    assert.deepEqual(parse(['""\n']), [[[''], 1]], 'a quoted empty field is not a blank line');
  });

  it('refuses text after a closing quote and an unclosed quote, naming the row', () => {
    assert.throws(() => parse(['a,b\n"x"y,2\n']), /row 2, column 1: text after the closing quote/);
    assert.throws(
      () => parse(['a,b\n1,"open\n']),
      /row 2, column 2: a quoted field is never closed/,
    );
  });
});

describe('UTF-8 text of a CSV', () => {
  it('decodes characters cut across chunks, drops one leading byte-order mark only', () => {
    const source = '\uFEFFcafé,日本,🐈\uFEFF\n';
    const bytes = Buffer.from(source, 'utf8');
    for (let size = 1; size <= 4; size++) {
      const text = new Utf8Text();
      let out = '';
      for (let i = 0; i < bytes.length; i += size) {
        const piece = text.decode(bytes.subarray(i, i + size));
        assert.equal(piece.invalid, false);
        out += piece.text;
      }
      out += text.end().text;
      assert.equal(out, source.slice(1), `chunks of ${size}`);
    }
  });

  it('stops at the first invalid sequence and says so, also for a character cut at the end', () => {
    const text = new Utf8Text();
    assert.deepEqual(text.decode(Buffer.from([0x61, 0x2c, 0xc3, 0xa9, 0xff, 0x62])), {
      text: 'a,é',
      invalid: true,
    });
    const cut = new Utf8Text();
    assert.deepEqual(cut.decode(Buffer.from([0x61, 0xe6, 0x97])), { text: 'a', invalid: false });
    assert.equal(cut.end().invalid, true);
  });
});
