// SidebarScript.html's logic (progress, summaries, polling, google.script.run as a promise),
// loaded without a DOM: on a page it starts itself; here only its functions are defined.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { load, plain } = require('./apps_script.js');

function sidebar(run) {
  const context = load(['SidebarScript.html'], { google: { script: { run: run || {} } } });
  return context.Billsync;
}

function running(phase, done, total) {
  return { id: 'r1', status: 'running', phase, done, total, counts: {} };
}

const FINISHED = {
  id: 'r1', status: 'succeeded', phase: 'done', done: 24, total: 24,
  counts: { new: 24, updated: 1, unchanged: 0, line_items: 981 }, message: '',
  queued_at: '2026-11-29T12:00:00Z', started_at: '2026-11-29T12:00:01Z',
  finished_at: '2026-11-29T12:00:09Z', ledger_url: 'https://docs.google.com/spreadsheets/d/s/edit#gid=1',
};

/** A fake getRun that answers from a list, and records every call. */
function answers(list) {
  const calls = [];
  const call = (name, id) => {
    calls.push([name, id]);
    const next = list.shift();
    if (next === undefined) throw new Error('polled after the last answer');
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
  return { call, calls };
}

const noWait = () => Promise.resolve();

for (const final of ['succeeded', 'partial', 'failed']) {
  test(`polling stops on the final status "${final}"`, async () => {
    const billsync = sidebar();
    const { call, calls } = answers([
      running('fetching', 1, 3), running('fetching', 3, 3), { ...FINISHED, status: final },
    ]);
    const seen = [];
    const result = await billsync.pollRun(running('listing', 0, 0), (run) => seen.push(run.status + ':' + run.done), {
      call, wait: noWait,
    });
    assert.equal(result.status, final);
    assert.deepEqual(seen, ['running:0', 'running:1', 'running:3', `${final}:24`]);
    assert.deepEqual(calls, [['getRun', 'r1'], ['getRun', 'r1'], ['getRun', 'r1']]);
  });
}

test('a run that is already final is not polled at all', async () => {
  const billsync = sidebar();
  const { call, calls } = answers([]);
  const result = await billsync.pollRun(FINISHED, () => {}, { call, wait: noWait });
  assert.equal(result.id, 'r1');
  assert.equal(calls.length, 0);
});

test('polling waits the interval between polls', async () => {
  const billsync = sidebar();
  const waits = [];
  const { call } = answers([running('fetching', 1, 2), FINISHED]);
  await billsync.pollRun(running('listing', 0, 0), () => {}, {
    call, interval: 1234, wait: (ms) => { waits.push(ms); return Promise.resolve(); },
  });
  assert.deepEqual(waits, [1234, 1234]);
});

test('one or two failed polls are retried; three in a row give up with the last error', async () => {
  const billsync = sidebar();
  const flaky = answers([new Error('a'), new Error('b'), running('writing', 1, 2), FINISHED]);
  const done = await billsync.pollRun(running('fetching', 0, 2), () => {}, { call: flaky.call, wait: noWait });
  assert.equal(done.status, 'succeeded');
  assert.equal(flaky.calls.length, 4);

  const down = answers([new Error('a'), new Error('b'), new Error('billsync could not be reached.')]);
  await assert.rejects(
    billsync.pollRun(running('fetching', 0, 2), () => {}, { call: down.call, wait: noWait }),
    /could not be reached/
  );
  assert.equal(down.calls.length, 3);
});

test('the progress bar only moves forward through the phases of a sync', () => {
  const billsync = sidebar();
  const runs = [{ status: 'queued' }, running('listing', 0, 0)];
  for (let i = 0; i <= 24; i += 6) runs.push(running('fetching', i, 24));
  runs.push(running('writing', 0, 24), running('writing', 24, 24), FINISHED);
  const percents = runs.map((run) => billsync.progressOf(run).percent);
  for (let i = 1; i < percents.length; i++) assert.ok(percents[i] >= percents[i - 1], String(percents));
  assert.equal(percents[0], 0);
  assert.equal(percents.at(-1), 100);
  assert.ok(new Set(percents).size >= 7, 'the bar moves within the fetching phase');
  assert.equal(billsync.progressOf(running('fetching', 3, 24)).label, 'Fetching invoices · 3 of 24…');
  assert.equal(billsync.progressOf(running('mystery', 0, 0)).label, 'Working…');
});

test('a finished run is summarised as new/updated invoices and line items', () => {
  const billsync = sidebar();
  assert.equal(billsync.summaryOf(FINISHED), '24 new, 1 updated invoices · 981 line items');
  assert.equal(
    billsync.summaryOf({ ...FINISHED, counts: { new: 1, updated: 0, unchanged: 3, line_items: 1 } }),
    '1 new invoice · 1 line item'
  );
  assert.equal(
    billsync.summaryOf({ ...FINISHED, counts: { new: 0, updated: 0, unchanged: 9, line_items: 0 } }),
    'Nothing new · 9 invoices unchanged'
  );
  // A run recorded before line counts meant changed lines: its total is not shown as news.
  assert.equal(
    billsync.summaryOf({ ...FINISHED, counts: { new: 0, updated: 0, unchanged: 1, line_items: 979 } }),
    'Nothing new · 1 invoice unchanged'
  );
});

test("a failed run shows the service's human message, and offers Retry", () => {
  const billsync = sidebar();
  const message = 'DigitalOcean rejected the token — create a new read-only token.';
  const failed = { ...FINISHED, status: 'failed', message, trigger: 'schedule' };
  const line = plain(billsync.runLine(failed, 'UTC'));
  assert.deepEqual(line, {
    when: '29 Nov, 12:00 UTC · scheduled',
    status: 'failed',
    statusText: 'Failed',
    text: message,
    retry: true,
  });
  assert.equal(billsync.runLine(FINISHED, 'UTC').retry, false);
  assert.equal(billsync.runLine({ ...failed, message: '' }, 'UTC').text, 'The sync failed. Try again, or look at the Runs tab.');
});

test('run times are shown with their time zone, by default the local one', () => {
  const billsync = sidebar();
  assert.equal(billsync.formatTime('2026-11-29T23:30:00Z', 'Asia/Tokyo'), '30 Nov, 08:30 GMT+9');
  assert.equal(billsync.formatTime('2026-11-29T23:30:00Z', 'UTC'), '29 Nov, 23:30 UTC');
  assert.equal(billsync.formatTime('2026-11-29T23:30:00Z', 'Not/AZone'), '29 Nov, 23:30 UTC');
  assert.equal(billsync.formatTime(null, 'UTC'), '');
  const before = process.env.TZ;
  try {
    process.env.TZ = 'Europe/Paris'; // the browser's zone: the person's local time
    assert.equal(billsync.formatTime('2026-11-29T23:30:00Z'), '30 Nov, 00:30 CET');
    assert.equal(billsync.runLine(FINISHED).when, '29 Nov, 13:00 CET');
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
});

test('schedules read as a sentence', () => {
  const billsync = sidebar();
  assert.equal(billsync.scheduleText({ frequency: 'off', hour: 6 }), 'off');
  assert.equal(billsync.scheduleText({ frequency: 'daily', hour: 6, time_zone: 'Europe/Berlin' }), 'every day at 06:00 (Europe/Berlin)');
  assert.equal(billsync.scheduleText({ frequency: 'weekly', hour: 18, weekday: 4, time_zone: 'UTC' }), 'every Friday at 18:00 (UTC)');
  assert.equal(billsync.scheduleText({ frequency: 'monthly', hour: 0, day: 2, time_zone: 'UTC' }), 'every month on day 2 at 00:00 (UTC)');
});

test('only web links are offered: the ledger URL and the Drive folder', () => {
  const billsync = sidebar();
  assert.deepEqual(plain(billsync.linksOf(FINISHED, { drive_folder_id: 'F1' })), [
    { text: 'Open the Invoices tab', href: FINISHED.ledger_url },
    { text: 'Open the Drive folder', href: 'https://drive.google.com/drive/folders/F1' },
  ]);
  assert.deepEqual(plain(billsync.linksOf({ ...FINISHED, ledger_url: 'javascript:alert(1)' }, {})), []);
});

test('server() wraps google.script.run: the success value, or an Error from the failure handler', async () => {
  const called = [];
  function runner(success, failure) {
    return {
      withSuccessHandler: (f) => runner(f, failure),
      withFailureHandler: (f) => runner(success, f),
      getRun: (id) => { called.push(['getRun', id]); setTimeout(() => success({ id }), 0); },
      syncNow: (id, full) => { called.push(['syncNow', id, full]); setTimeout(() => failure({ message: 'Nope, try later.' }), 0); },
    };
  }
  const billsync = sidebar(runner(null, null));
  assert.deepEqual(plain(await billsync.server('getRun', 'r9')), { id: 'r9' });
  await assert.rejects(billsync.server('syncNow', 'c1', false), (error) => error.message === 'Nope, try later.');
  assert.deepEqual(called, [['getRun', 'r9'], ['syncNow', 'c1', false]]);
});

test('each provider names its token and links to where a read-only one is issued', () => {
  const billsync = sidebar();
  const providers = plain(billsync.PROVIDERS);
  assert.deepEqual(Object.keys(providers), ['digitalocean', 'doit']);
  assert.match(providers.digitalocean.url, /^https:\/\/cloud\.digitalocean\.com\/account\/api\/tokens$/);
  assert.match(providers.digitalocean.help, /read/);
  assert.match(providers.doit.help, /Invoice Viewer/);
});

test("a paused schedule is recognised from the Connection's schedule_paused", () => {
  const billsync = sidebar();
  assert.equal(billsync.isPaused({ schedule_paused: true, schedule: { frequency: 'daily' } }), true);
  assert.equal(billsync.isPaused({ schedule_paused: false, schedule: { frequency: 'daily' } }), false);
});

test('the month offered for export is the previous one, across a new year', () => {
  const billsync = sidebar();
  assert.equal(billsync.previousMonth(new Date(2026, 0, 15)), '2025-12');
  assert.equal(billsync.previousMonth(new Date(2026, 10, 1)), '2026-10');
  assert.deepEqual(['2026-01', ' 2026-12 ', '2026-13', '2026-00', '26-01', ''].map(billsync.isMonth),
    [true, true, false, false, false, false]);
});

test('an export reads as bills, lines and one total per currency, with a link to each file', () => {
  const billsync = sidebar();
  const shown = billsync.exportSummary({
    format: 'qbo', period: '2026-10', bills: 501, notes: ['DoiT invoice 7 (USD -3.00) is a credit: enter it as a supplier credit.'],
    files: [
      { name: '2026-10 qbo.csv', url: 'https://drive.google.com/file/d/f1/view', bills: 500, lines: 1, totals: { USD: '10.00', EUR: '-2.50' } },
      { name: '2026-10 qbo 2.csv', url: 'file:///home/me/billsync-data/archive/Exports/2026-10%20qbo%202.csv', bills: 1, lines: 3, totals: { USD: '0.1' } },
    ],
  });
  assert.deepEqual(plain(shown), {
    text: 'Exported 501 bills of 2026-10 for QuickBooks Online.',
    notes: ['DoiT invoice 7 (USD -3.00) is a credit: enter it as a supplier credit.'],
    files: [
      { text: '2026-10 qbo.csv · 1 line · EUR -2.50 · USD 10.00', href: 'https://drive.google.com/file/d/f1/view' },
      { text: '2026-10 qbo 2.csv · 3 lines · USD 0.1', path: '/home/me/billsync-data/archive/Exports/2026-10 qbo 2.csv' },
    ],
  });
});

test('a month without invoices shows the service\'s sentence and no file', () => {
  const billsync = sidebar();
  const message = 'No Xero bills for 1999-01: the ledger has no invoice of that month; nothing was exported.';
  assert.deepEqual(plain(billsync.exportSummary({ format: 'xero', period: '1999-01', bills: 0, files: [], notes: [], message })),
    { text: message, files: [], notes: [] });
});
