/**
 * Each adapter on real HH-RLHF rows (../shared/data), and on the other layouts built from those
 * same real texts: the canonical pair must come out the same whatever layout carried it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adaptRow, contentId, detectFormat, renderMessages, splitImplicit, type AdaptOptions } from '../../schemas/adapters.js';
import type { ListRecord, PairRecord, RawRow, RejectRecord } from '../../schemas/records.js';
import { hhMessages, hhRows } from '../helpers/badInputs.js';

const auto: AdaptOptions = { format: 'auto', pkuChoice: 'safer' };
const raw = (row: Record<string, unknown>, sourceRow = 0): RawRow => ({ kind: 'raw', sourceFile: 'f.jsonl', sourceRow, row });
const asPair = (r: PairRecord | ListRecord | RejectRecord): PairRecord => {
  assert.equal(r.kind, 'pair', r.kind === 'reject' ? r.reason : r.kind);
  return r as PairRecord;
};
const reasonOf = (r: PairRecord | ListRecord | RejectRecord): string => {
  assert.equal(r.kind, 'reject');
  return (r as RejectRecord).reason;
};

test('implicit (HH-RLHF): every real row splits at the last shared Assistant turn', () => {
  const hh = hhRows();
  assert.equal(hh.length, 2312);
  const blank: number[] = [];
  hh.forEach((row, i) => {
    assert.equal(detectFormat(row as never), 'implicit');
    const r = adaptRow(raw(row as never, i), auto);
    if (r.kind === 'reject') {
      // A few real dialogues end in a blank answer: the same reason as in the explicit layout.
      assert.match(r.reason, /^empty text: (chosen|rejected)$/);
      assert.equal(splitImplicit(row.chosen, row.rejected)![r.reason.endsWith('chosen') ? 'chosen' : 'rejected'].trim(), '');
      blank.push(i);
      return;
    }
    const p = asPair(r);
    assert.equal(p.prompt + p.chosen, row.chosen);
    assert.equal(p.prompt + p.rejected, row.rejected);
    assert.ok(p.prompt.endsWith('\n\nAssistant:'), `row ${i}`);
    assert.ok(p.prompt.startsWith('\n\nHuman:'), `row ${i}`);
    assert.notEqual(p.chosen, p.rejected, `row ${i}`);
    assert.equal(p.pairId, contentId(p.prompt, p.chosen, p.rejected));
    assert.equal(p.idFromInput, false);
    assert.deepEqual([p.chosenSafe, p.rejectedSafe, p.category, p.passThrough], [null, null, null, {}]);
  });
  assert.deepEqual(blank, [86, 516, 925, 1103]);
  // The first real row, by hand.
  const p = asPair(adaptRow(raw(hh[0] as never), auto));
  assert.ok(p.prompt.endsWith('\n\nHuman: okay some of these do not have anything to do with pens\n\nAssistant:'));
  assert.ok(p.chosen.startsWith(' No, sorry!'));
});

test('splitImplicit: no shared Assistant turn gives null', () => {
  assert.equal(splitImplicit('a', 'b'), null);
  assert.equal(splitImplicit('\n\nHuman: x', '\n\nHuman: x'), null);
  assert.deepEqual(splitImplicit('\n\nHuman: q\n\nAssistant: yes', '\n\nHuman: q\n\nAssistant: no'), { prompt: '\n\nHuman: q\n\nAssistant:', chosen: ' yes', rejected: ' no' });
  // Answers that share their first words still split at the turn, not inside the answer.
  assert.deepEqual(splitImplicit('\n\nHuman: q\n\nAssistant: I can help', '\n\nHuman: q\n\nAssistant: I cannot'), { prompt: '\n\nHuman: q\n\nAssistant:', chosen: ' I can help', rejected: ' I cannot' });
});

test('explicit (TRL prompt/chosen/rejected) from real texts: same pair, input id kept, extras passed through', () => {
  for (const [i, row] of hhRows().slice(0, 200).entries()) {
    if (i === 86) continue; // a blank answer (see above)
    const implicit = asPair(adaptRow(raw(row as never, i), auto));
    const explicitRow = { id: `hh-${i}`, prompt: implicit.prompt, chosen: implicit.chosen, rejected: implicit.rejected, category: 'harmless', chosen_safe: true, rejected_safe: 0, lang: 'en' };
    assert.equal(detectFormat(explicitRow), 'explicit');
    const p = asPair(adaptRow(raw(explicitRow, i), auto));
    assert.deepEqual([p.prompt, p.chosen, p.rejected], [implicit.prompt, implicit.chosen, implicit.rejected]);
    assert.equal(p.pairId, `hh-${i}`);
    assert.equal(p.idFromInput, true);
    assert.deepEqual([p.chosenSafe, p.rejectedSafe, p.category], [true, false, 'harmless']);
    assert.deepEqual(p.passThrough, { lang: 'en' });
  }
  // prefrank's own output column pair_id is read back as the id; a numeric id becomes text.
  assert.equal(asPair(adaptRow(raw({ pair_id: 'x1', prompt: 'p', chosen: 'c', rejected: 'r' }), auto)).pairId, 'x1');
  assert.equal(asPair(adaptRow(raw({ id: 7n, prompt: 'p', chosen: 'c', rejected: 'r' }), auto)).pairId, '7');
});

test('conversational (lists of {role, content}) from real dialogues: same pair as the implicit text', () => {
  let compared = 0;
  for (const [i, row] of hhRows().entries()) {
    const c = hhMessages(row.chosen);
    const r = hhMessages(row.rejected);
    if (!c || !r) continue;
    // Only dialogues that differ in the final answer alone have one obvious message-level split.
    if (c.length !== r.length || c.at(-1)!.role !== 'assistant' || c.slice(0, -1).some((m, k) => m.content !== r[k].content || m.role !== r[k].role)) continue;
    if (c.at(-1)!.content === r.at(-1)!.content || c.at(-1)!.content.trim() === '' || r.at(-1)!.content.trim() === '') continue;
    const implicit = asPair(adaptRow(raw(row as never, i), auto));
    // Implicit conversational (no prompt column): the shared leading messages are the prompt.
    const conv = { chosen: c, rejected: r };
    assert.equal(detectFormat(conv), 'conversational');
    const p = asPair(adaptRow(raw(conv, i), auto));
    assert.deepEqual([p.prompt, p.chosen, p.rejected], [implicit.prompt, implicit.chosen, implicit.rejected], `row ${i}`);
    // Explicit conversational: prompt messages, then one-message answers.
    const explicit = { prompt: c.slice(0, -1), chosen: c.slice(-1), rejected: r.slice(-1) };
    assert.equal(detectFormat(explicit), 'conversational');
    const q = asPair(adaptRow(raw(explicit, i), auto));
    assert.deepEqual([q.prompt, q.chosen, q.rejected], [implicit.prompt, implicit.chosen, implicit.rejected], `row ${i}`);
    compared++;
  }
  // Most real rows differ in the final answer alone.
  assert.ok(compared > 2000, `compared ${compared}`);
  assert.equal(renderMessages([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }]), '\n\nHuman: hi\n\nAssistant: yo');
});

test('conversational rejects: not messages, empty answers', () => {
  const msgs = [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }];
  const conv: AdaptOptions = { format: 'conversational', pkuChoice: 'safer' };
  assert.equal(reasonOf(adaptRow(raw({ chosen: msgs, rejected: 'text' }), auto)), 'wrong type: rejected is not a list of {role, content} messages');
  assert.equal(reasonOf(adaptRow(raw({ chosen: msgs }), conv)), 'missing column: rejected');
  assert.equal(reasonOf(adaptRow(raw({ prompt: 'text', chosen: msgs, rejected: msgs }), conv)), 'wrong type: prompt is not a list of {role, content} messages');
  assert.equal(reasonOf(adaptRow(raw({ chosen: msgs, rejected: [msgs[0], { role: 'assistant', content: ' ' }] }), auto)), 'empty text: rejected');
});

test('PKU-SafeRLHF / BeaverTails style from real texts: chosen by safer or better id, safety labels follow the responses', () => {
  for (const [i, row] of hhRows().slice(0, 100).entries()) {
    if (i === 86) continue; // a blank answer (see above)
    const imp = asPair(adaptRow(raw(row as never, i), auto));
    // response_1 is the HH chosen (safer); response_0 is "better" here, to tell the flags apart.
    const pku = { prompt: imp.prompt, response_0: imp.rejected, response_1: imp.chosen, safer_response_id: 1, better_response_id: 0n, is_response_0_safe: false, is_response_1_safe: true, category: 'privacy', source: 'pku' };
    assert.equal(detectFormat(pku), 'pku');
    const safer = asPair(adaptRow(raw(pku, i), auto));
    assert.deepEqual([safer.prompt, safer.chosen, safer.rejected, safer.chosenSafe, safer.rejectedSafe], [imp.prompt, imp.chosen, imp.rejected, true, false]);
    assert.deepEqual(safer.passThrough, { source: 'pku' });
    assert.equal(safer.category, 'privacy');
    const better = asPair(adaptRow(raw(pku, i), { format: 'auto', pkuChoice: 'better' }));
    assert.deepEqual([better.chosen, better.rejected, better.chosenSafe, better.rejectedSafe], [imp.rejected, imp.chosen, false, true]);
  }
  const base = { prompt: 'p', response_0: 'a', response_1: 'b' };
  assert.equal(reasonOf(adaptRow(raw(base), auto)), 'missing column: safer_response_id');
  assert.equal(reasonOf(adaptRow(raw({ ...base, safer_response_id: 2 }), auto)), 'wrong type: safer_response_id must be 0 or 1');
  assert.equal(reasonOf(adaptRow(raw({ ...base, response_1: null, safer_response_id: 0 }), auto)), 'null text: response_1');
});

test('listwise (prompt + responses) from real texts', () => {
  const hh = hhRows();
  const a = asPair(adaptRow(raw(hh[1] as never, 1), auto));
  const row = { prompt: a.prompt, responses: [a.chosen, a.rejected, ' I would rather not say.'], labels: [true, false, null], id: 9 };
  assert.equal(detectFormat(row), 'list');
  const l = adaptRow(raw(row, 1), auto) as ListRecord;
  assert.equal(l.kind, 'list');
  assert.deepEqual([l.prompt, l.responses, l.labels, l.listId, l.idFromInput], [a.prompt, row.responses, [true, false, null], '9', true]);
  const noId = adaptRow(raw({ prompt: a.prompt, responses: [a.chosen, a.rejected] }), auto) as ListRecord;
  assert.equal(noId.listId, contentId(a.prompt, a.chosen, a.rejected));
  assert.equal(noId.labels, null);
  assert.equal(reasonOf(adaptRow(raw({ prompt: 'p', responses: 'x' }), auto)), 'wrong type: responses is not a list');
  assert.equal(reasonOf(adaptRow(raw({ prompt: 'p', responses: ['x'] }), auto)), 'too few responses: need at least 2');
  assert.equal(reasonOf(adaptRow(raw({ prompt: 'p', responses: ['x', 3] }), auto)), 'wrong type: responses must be non-empty strings');
  assert.equal(reasonOf(adaptRow(raw({ prompt: 'p', responses: ['x', 'y'], labels: [true] }), auto)), 'labels and responses differ in length');
});

test('reasons: missing column, null text, wrong type, empty text, unknown format', () => {
  const [h] = hhRows();
  const explicit: AdaptOptions = { format: 'explicit', pkuChoice: 'safer' };
  assert.equal(reasonOf(adaptRow(raw({ chosen: h.chosen }), auto)), 'unknown format: columns chosen');
  assert.equal(reasonOf(adaptRow(raw({}), auto)), 'unknown format: columns (none)');
  assert.equal(reasonOf(adaptRow(raw({ prompt: 'p', chosen: 'c' }), explicit)), 'missing column: rejected');
  assert.equal(reasonOf(adaptRow(raw({ chosen: h.chosen, rejected: null }), auto)), 'null text: rejected');
  assert.equal(reasonOf(adaptRow(raw({ chosen: h.chosen, rejected: ['a'] }), auto)), 'wrong type: rejected is a list, expected a string');
  assert.equal(reasonOf(adaptRow(raw({ chosen: 1.5, rejected: h.rejected }), auto)), 'wrong type: chosen is number, expected a string');
  assert.equal(reasonOf(adaptRow(raw({ prompt: ' \n', chosen: 'c', rejected: 'r' }), auto)), 'empty text: prompt');
  // A reject keeps where the row came from and a bounded preview of it.
  const r = adaptRow(raw({ chosen: 'x'.repeat(10_000) }, 41), auto) as RejectRecord;
  assert.deepEqual([r.sourceFile, r.sourceRow], ['f.jsonl', 41]);
  assert.ok(r.raw.length < 2100, `${r.raw.length}`);
});
