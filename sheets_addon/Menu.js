/**
 * The add-on menu. onOpen and onInstall only build the menu: before the user authorizes the
 * add-on (AuthMode.NONE) nothing else may run, so the sidebar opens only from the menu item.
 */

/** Builds the "Extensions → billsync" menu. */
function onOpen(e) {
  SpreadsheetApp.getUi()
    .createAddonMenu()
    .addItem('Open billsync', 'showSidebar')
    .addToUi();
}

/** Runs once when the add-on is installed from the Marketplace; same menu. */
function onInstall(e) {
  onOpen(e);
}

/** The menu item: the sidebar (300 px wide, as every Sheets sidebar). */
function showSidebar() {
  var page = HtmlService.createTemplateFromFile('Sidebar')
    .evaluate()
    .setTitle('billsync');
  SpreadsheetApp.getUi().showSidebar(page);
}

/** Used by Sidebar.html's scriptlets: the content of another HTML file of the project. */
function include(name) {
  return HtmlService.createHtmlOutputFromFile(name).getContent();
}
