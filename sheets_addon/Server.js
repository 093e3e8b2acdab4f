/**
 * The only file that calls the billsync service, and the only functions the sidebar calls
 * through google.script.run. Names ending in "_" are private (Apps Script hides them from
 * google.script.run).
 *
 * Every call is one short HTTP request: UrlFetchApp has no timeout option and a script stops
 * after 6 minutes, so a sync is started here and polled by the sidebar, never waited on.
 * The caller is identified by ScriptApp.getIdentityToken() (an OpenID Connect ID token whose
 * audience is this script's OAuth client); the service checks it and the user's access to the
 * spreadsheet. Errors come back as Error objects whose message a person can act on: never an
 * HTTP status line, a response body that is not the service's error shape, or a token.
 *
 * The contract these functions call is the service's /v1 API (GET /openapi.json).
 */

var SERVICE_URL_PROPERTY = 'BILLSYNC_API_URL';
var MESSAGE_LIMIT = 300; // characters of a service message shown to a person
var PROVIDERS_ = ['digitalocean', 'doit'];
var FREQUENCIES_ = ['off', 'daily', 'weekly', 'monthly'];
var EXPORT_FORMATS_ = ['xero', 'qbo'];
var DATE_FORMATS_ = ['iso', 'dmy', 'mdy'];
var EXPORT_SCOPES_ = ['connection', 'ledger'];
var MONTH_ = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * What the sidebar needs on opening. `connections` is null while this spreadsheet needs the
 * user's Google consent first (the service answers 409 google_not_connected); a service that
 * writes this spreadsheet without Google (the local preview's embedded workbook) lists them.
 * @return {{email: string, google: {connected: boolean}, timeZone: string,
 *           spreadsheetUrl: string, connections: (Object[]|null)}}
 */
function getSidebarState() {
  var me = getMe();
  var spreadsheet = SpreadsheetApp.getActiveSpreadsheet();
  var connections = null;
  if (me.google.connected) {
    connections = listConnections();
  } else {
    try {
      connections = listConnections();
    } catch (error) {
      if (error.code !== 'google_not_connected') throw error;
      connections = null; // consent first: the sidebar offers "Connect your Google account"
    }
  }
  return {
    email: me.email,
    google: me.google,
    timeZone: spreadsheet.getSpreadsheetTimeZone(),
    spreadsheetUrl: spreadsheet.getUrl(),
    connections: connections,
  };
}

/** @return {{email: string, google: {connected: boolean}}} who is signed in, and consent. */
function getMe() {
  var me = call_('get', '/v1/me');
  field_(me, 'google');
  return me;
}

/** @return {string} the Google consent URL to open in a new window. */
function startGoogleConnect() {
  return field_(call_('post', '/v1/oauth/google/start', {}), 'url');
}

/** @return {Object[]} this spreadsheet's connections (Connection objects of the contract). */
function listConnections() {
  return field_(call_('get', sheetPath_() + '/connections'), 'connections').map(present_);
}

/**
 * Adds a provider to this spreadsheet. The token goes to the service once and is never
 * returned; the Connection shows only its fingerprint and the provider's account name.
 * @param {{provider: string, name: string, token: string, tenant: (string|undefined)}} form
 * @return {Object} the new Connection.
 */
function addConnection(form) {
  form = form || {};
  if (PROVIDERS_.indexOf(form.provider) < 0) {
    throw new Error('Choose DigitalOcean or DoiT as the provider.');
  }
  var name = String(form.name || '').trim();
  var token = String(form.token || '').trim();
  if (!name) throw new Error('Give the connection a name, for example "DigitalOcean".');
  if (!token) throw new Error('Paste the API token before adding the provider.');
  var body = { provider: form.provider, name: name, token: token };
  var tenant = String(form.tenant || '').trim();
  if (tenant) body.tenant = tenant;
  if (form.schedule) body.schedule = schedule_(form.schedule);
  try {
    return present_(field_(call_('post', sheetPath_() + '/connections', body), 'connection'));
  } catch (error) {
    throw new Error(sidebarWords_(error.message, ' and paste it here'));
  }
}

/**
 * Changes a connection's name, schedule, preview or Drive folder.
 * @param {string} connectionId
 * @param {{name: (string|undefined), schedule: (Object|undefined),
 *          include_preview: (boolean|undefined), drive_folder_id: (string|undefined)}} changes
 * @return {Object} the updated Connection.
 */
function updateConnection(connectionId, changes) {
  var body = {};
  changes = changes || {};
  if (changes.name !== undefined) body.name = String(changes.name).trim();
  if (changes.schedule !== undefined) body.schedule = schedule_(changes.schedule);
  if (changes.include_preview !== undefined) body.include_preview = !!changes.include_preview;
  if (changes.drive_folder_id !== undefined) body.drive_folder_id = changes.drive_folder_id;
  return present_(field_(call_('patch', connectionPath_(connectionId), body), 'connection'));
}

/** Disconnects: the service destroys the stored token; rows already written stay. */
function removeConnection(connectionId) {
  call_('delete', connectionPath_(connectionId));
  return true;
}

/**
 * Starts a sync (or returns the one already running for this connection).
 * @return {Object} the Run, queued or running: poll it with getRun.
 */
function syncNow(connectionId, full) {
  return presentRun_(field_(call_('post', connectionPath_(connectionId) + '/sync', { full: !!full }), 'run'));
}

/** @return {Object} the Run now (status, phase, done of total, counts, message). */
function getRun(runId) {
  return presentRun_(field_(call_('get', '/v1/runs/' + encodeURIComponent(runId)), 'run'));
}

/** @return {Object[]} a connection's latest runs, newest first. */
function listRuns(connectionId, limit) {
  var n = Math.max(1, Math.min(50, Math.floor(Number(limit) || 5)));
  return field_(call_('get', connectionPath_(connectionId) + '/runs?limit=' + n), 'runs').map(presentRun_);
}

/**
 * Exports one month of the connection's bills as a Xero or QuickBooks Online import file. The
 * service archives it in the connection's Drive folder (Exports/) and links it from the Runs
 * tab; it answers when the file is there (seconds: one read of the ledger, one upload).
 * @param {string} connectionId
 * @param {{format: string, period: string, date_format: (string|undefined),
 *          scope: (string|undefined)}} form
 *   format "xero" | "qbo"; period "YYYY-MM"; date_format "iso" | "dmy" | "mdy" (default: the
 *   product's own, dmy for Xero and mdy for QuickBooks Online US); scope "connection" (the
 *   default: this connection's invoices) | "ledger" (every invoice of its ledger, PDF inbox
 *   included)
 * @return {{format: string, period: string, date_format: string, bills: number,
 *           files: {name: string, url: string, bills: number, lines: number,
 *                   totals: Object<string, string>}[], notes: string[], message: string}}
 *   the Export; no files when the month has no invoice (its message says so).
 */
function exportBills(connectionId, form) {
  form = form || {};
  if (EXPORT_FORMATS_.indexOf(form.format) < 0) {
    throw new Error('Choose Xero or QuickBooks Online as the export format.');
  }
  var period = String(form.period || '').trim();
  if (!MONTH_.test(period)) throw new Error('Give the month to export as YYYY-MM, for example 2026-01.');
  var body = { format: form.format, period: period };
  if (form.date_format) {
    if (DATE_FORMATS_.indexOf(form.date_format) < 0) throw new Error('Choose one of the date formats offered.');
    body.date_format = form.date_format;
  }
  if (form.scope) {
    if (EXPORT_SCOPES_.indexOf(form.scope) < 0) throw new Error('Export this connection\'s invoices or the whole ledger.');
    body.scope = form.scope;
  }
  var made = field_(call_('post', connectionPath_(connectionId) + '/exports', body), 'export');
  made.message = sidebarWords_(made.message);
  return made;
}

// -- private ------------------------------------------------------------------------------

function sheetPath_() {
  var id = SpreadsheetApp.getActiveSpreadsheet().getId();
  return '/v1/spreadsheets/' + encodeURIComponent(id);
}

function connectionPath_(connectionId) {
  if (!connectionId) throw new Error('That connection no longer exists. Reopen the sidebar.');
  return '/v1/connections/' + encodeURIComponent(connectionId);
}

function schedule_(schedule) {
  if (FREQUENCIES_.indexOf(schedule.frequency) < 0) {
    throw new Error('Choose how often to sync: off, daily, weekly or monthly.');
  }
  var out = { frequency: schedule.frequency, hour: Number(schedule.hour) || 0 };
  if (schedule.time_zone) out.time_zone = String(schedule.time_zone);
  if (schedule.frequency === 'weekly') out.weekday = Number(schedule.weekday) || 0;
  if (schedule.frequency === 'monthly') out.day = Number(schedule.day) || 1;
  return out;
}

function serviceUrl_() {
  var url = PropertiesService.getScriptProperties().getProperty(SERVICE_URL_PROPERTY);
  if (!url) {
    throw new Error(
      'billsync is not set up yet: the script property ' + SERVICE_URL_PROPERTY +
        ' is missing. Ask whoever installed the add-on to set it.'
    );
  }
  return String(url).replace(/\/+$/, '');
}

/**
 * One request to the service: JSON in and out, the caller's ID token, HTTP errors returned
 * (muteHttpExceptions) and turned into readable Errors here.
 */
function call_(method, path, payload) {
  var token = ScriptApp.getIdentityToken();
  var options = {
    method: method,
    muteHttpExceptions: true,
    followRedirects: false,
    headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
  };
  if (payload !== undefined) {
    options.contentType = 'application/json';
    options.payload = JSON.stringify(payload);
  }
  var response;
  try {
    response = UrlFetchApp.fetch(serviceUrl_() + path, options);
  } catch (error) {
    if (error && /BILLSYNC_API_URL/.test(error.message)) throw error;
    // UrlFetchApp's own message names the URL and sometimes the request: keep it out.
    throw new Error('billsync could not be reached. Check your connection and try again.');
  }
  var status = response.getResponseCode();
  if (status === 204) return null;
  var body = parseJson_(response.getContentText());
  if (status >= 200 && status < 300 && body !== null) return body;
  var failure = new Error(errorMessage_(status, body, [token, payload && payload.token]));
  failure.code = body && body.error && typeof body.error.code === 'string' ? body.error.code : null;
  throw failure; // the code stays on this side: google.script.run passes only the message
}

// The service shares its error sentences with the command line; in the sidebar a CLI command
// is no advice, so it becomes what to do here.
var CLI_ADVICE_ = [
  [/[,:]?\s*(?:and |then )?run `billsync connect [a-z]+[^`]*` again/g, null], // null: per context
  [/[,:]?\s*(?:and |then )?run `billsync google login[^`]*` again/g, ', then reconnect your Google account from this sidebar'],
  // The API's own words for the same advice (api/web/errors.py API_WORDS): per context too.
  [/, then disconnect this provider and add it again with the new token/g, null],
];
var RECONNECT_PROVIDER_ = ', then disconnect this provider and add it again with the new token';

/** A service sentence in the sidebar's words: CLI commands become sidebar actions. */
function sidebarWords_(message, reconnect) {
  var text = String(message || '');
  for (var i = 0; i < CLI_ADVICE_.length; i++) {
    text = text.replace(CLI_ADVICE_[i][0], CLI_ADVICE_[i][1] || reconnect || RECONNECT_PROVIDER_);
  }
  return text.replace(/\s*[^.!?]*`billsync [^`]*`[^.!?]*[.!?]?/g, ''); // any other CLI advice
}

function presentRun_(run) {
  if (run && run.message) run.message = sidebarWords_(run.message);
  return run;
}

function present_(connection) {
  if (connection && connection.last_run) presentRun_(connection.last_run);
  return connection;
}

/** The named member of a successful answer; a missing one means the versions do not match. */
function field_(body, name) {
  if (!body || body[name] === undefined || body[name] === null) {
    throw new Error('billsync answered in a way this add-on does not understand. Reload the Sheet; if it persists, the add-on needs an update.');
  }
  return body[name];
}

function parseJson_(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    return null; // an HTML page from a proxy, an empty body: not ours to show
  }
}

/** The service's error message, or a sentence for the status when the body is not ours. */
function errorMessage_(status, body, secrets) {
  var error = body && body.error;
  var message =
    error && typeof error.message === 'string' && error.message.trim()
      ? error.message.trim()
      : fallbackMessage_(status);
  for (var i = 0; i < secrets.length; i++) {
    if (secrets[i]) message = message.split(String(secrets[i])).join('[hidden]');
  }
  if (message.length > MESSAGE_LIMIT) message = message.slice(0, MESSAGE_LIMIT - 1) + '…';
  return message;
}

function fallbackMessage_(status) {
  if (status === 401) return 'Your Google sign-in could not be checked. Reload the Sheet and reopen billsync.';
  if (status === 403) return 'Your Google account cannot use billsync in this spreadsheet.';
  if (status === 404) return 'That item no longer exists. Reopen the sidebar to see what is there now.';
  if (status === 409) return 'That conflicts with what is already there. Reopen the sidebar and try again.';
  if (status === 429) return 'billsync is busy right now. Try again in a minute.';
  if (status >= 500) return 'billsync had a problem on its side. Try again in a few minutes.';
  return 'billsync could not do that. Reopen the sidebar and try again.';
}
