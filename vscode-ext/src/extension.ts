// The VS Code side of auto-prove: starts the sidecar (`auto-prove lsp`) for Lean 4 and Coq files, passes the
// settings on, shows its status, and offers its commands. Everything about proofs happens in the sidecar; the
// quick fixes, diagnostics and hovers come from it through the language client.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from "vscode-languageclient/node";

import { discoverSidecar, Probe } from "./discovery";
import { configurationPayload, LIVE_KEYS, RESTART_KEYS, serverSettings } from "./settings";
import { ProveHereAnswer, proveHereMessage, SidecarStatus, STARTING, statusView } from "./status";

const SECTION = "autoProve";
const STATUS_NOTIFICATION = "autoProve/status";

/** Lean 4 and Coq documents, by language and by file pattern, so that auto-prove works next to the official
 * Lean 4 extension and VsCoq (which own the languages) and without them (a `.v` file may then be "verilog"). */
const DOCUMENTS = [
  { scheme: "file", language: "lean4" },
  { scheme: "file", language: "coq" },
  { scheme: "file", pattern: "**/*.lean" },
  { scheme: "file", pattern: "**/*.v" },
];

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
let lastStatus: SidecarStatus | undefined;
/** Start, stop and restart run one after the other: a second restart waits for the first, never doubles it. */
let queue: Promise<unknown> = Promise.resolve();

function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn, fn);
  queue = next.catch(() => undefined);
  return next;
}

const fileSystemProbe: Probe = {
  isExecutable(p: string): boolean {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  },
  which(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
      if (dir && fileSystemProbe.isExecutable(path.join(dir, name))) {
        return path.join(dir, name);
      }
    }
    return undefined;
  },
  pythonHasSidecar(python: string): boolean {
    // finds the modules without importing them (0.1 s instead of the language server's 1 s import)
    const probe = "import importlib.util as u, sys; " +
      "sys.exit(0 if u.find_spec('sidecar.lsp') and u.find_spec('pygls') and u.find_spec('lsprotocol') else 1)";
    const r = spawnSync(python, ["-c", probe], { timeout: 30000, stdio: "ignore" });
    return r.status === 0;
  },
};

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

function currentSettings() {
  const c = config();
  return serverSettings((key) => c.get(key));
}

function showStatus(view: { text: string; tooltip: string }, warning = false): void {
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor = warning ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
  statusItem.show();
}

async function start(): Promise<void> {
  if (client !== undefined) {
    return; // already running (or starting): no second sidecar
  }
  const c = config();
  const found = discoverSidecar({ serverPath: c.get<string>("serverPath"), python: c.get<string>("python") },
    fileSystemProbe);
  if (!found.ok) {
    output.appendLine(found.message);
    showStatus({ text: "$(warning) auto-prove: no sidecar", tooltip: found.message }, true);
    void vscode.window.showErrorMessage(found.message, "Open Settings", "Show Log").then((choice) => {
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "autoProve");
      } else if (choice === "Show Log") {
        output.show(true);
      }
    });
    return;
  }
  output.appendLine(`starting the sidecar: ${found.command} ${found.args.join(" ")} (found through ${found.via})`);
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const serverOptions: ServerOptions = { command: found.command, args: found.args, options: { cwd } };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENTS,
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: configurationPayload(currentSettings()),
  };
  const lc = new LanguageClient("autoProve", "auto-prove", serverOptions, clientOptions);
  client = lc;
  showStatus(STARTING);
  lc.onDidChangeState((e) => {
    if (e.newState === State.Stopped && client === lc) {
      showStatus({ text: "$(warning) auto-prove: stopped", tooltip: "The sidecar stopped; see the log. Click to restart." }, true);
    }
  });
  lc.onNotification(STATUS_NOTIFICATION, (s: SidecarStatus) => {
    if (client === lc) {
      lastStatus = s;
      showStatus(statusView(s));
    }
  });
  const t0 = Date.now();
  try {
    await lc.start();
    output.appendLine(`the sidecar is running (${Date.now() - t0} ms to start and initialize)`);
  } catch (e) {
    client = undefined;
    const message = `auto-prove: the sidecar did not start (${found.command} ${found.args.join(" ")}): ${e}`;
    output.appendLine(message);
    showStatus({ text: "$(warning) auto-prove: not running", tooltip: message }, true);
    void vscode.window.showErrorMessage(message, "Show Log").then((c2) => c2 && output.show(true));
    return;
  }
}

async function stop(): Promise<void> {
  const lc = client;
  client = undefined;
  lastStatus = undefined;
  if (lc !== undefined) {
    try {
      await lc.stop(10000);
    } catch (e) {
      output.appendLine(`stopping the sidecar: ${e}`);
    }
  }
}

function restart(reason: string): Promise<void> {
  return serialized(async () => {
    output.appendLine(`restarting the sidecar (${reason})`);
    await stop();
    await start();
  });
}

async function serverCommand(command: string, args: unknown[] = []): Promise<unknown> {
  const lc = client;
  if (lc === undefined || lc.state !== State.Running) {
    void vscode.window.showWarningMessage("auto-prove: the sidecar is not running (auto-prove: Restart sidecar).");
    return undefined;
  }
  return lc.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
}

async function proveGoalAtCursor(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showInformationMessage("auto-prove: open a Lean or Coq file and put the cursor on a goal.");
    return;
  }
  const pos = editor.selection.active;
  const answer = (await serverCommand("autoProve.proveHere",
    [editor.document.uri.toString(), pos.line, pos.character])) as ProveHereAnswer | undefined;
  if (answer !== undefined && typeof answer === "object") {
    void vscode.window.showInformationMessage(proveHereMessage(answer));
  }
}

async function setPaused(paused: boolean): Promise<void> {
  const s = (await serverCommand(paused ? "autoProve.pause" : "autoProve.resume")) as SidecarStatus | undefined;
  if (s !== undefined && typeof s === "object") {
    lastStatus = s;
    showStatus(statusView(s));
  }
}

async function openDashboard(): Promise<void> {
  // the sidecar starts its dashboard on first use; the URL carries the token (127.0.0.1 only)
  const answer = (await serverCommand("autoProve.dashboard")) as { ok?: boolean; url?: string; error?: string } | undefined;
  if (answer === undefined || typeof answer !== "object") {
    return;
  }
  if (answer.ok !== true || typeof answer.url !== "string") {
    void vscode.window.showWarningMessage(`auto-prove: no dashboard: ${answer.error ?? "unknown error"}`);
    return;
  }
  output.appendLine(`dashboard at ${answer.url.replace(/token=[0-9a-f]+/, "token=…")}`);
  await vscode.env.openExternal(vscode.Uri.parse(answer.url));
}

async function importProofs(): Promise<void> {
  // results exported by another machine (`auto-prove sync export`: the cluster, CI): a folder or a file; the
  // sidecar verifies each proof here before it is offered
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: "Import proofs",
    title: "auto-prove: a folder of exports or one export (…jsonl.gz)",
  });
  if (picked === undefined || picked.length === 0) {
    return;
  }
  const answer = (await serverCommand("autoProve.syncImport", [picked[0].fsPath])) as
    | { ok?: boolean; message?: string }
    | undefined;
  if (answer === undefined || typeof answer !== "object") {
    return;
  }
  output.appendLine(`import: ${answer.message ?? ""}`);
  const show = answer.ok === true ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(`auto-prove: ${answer.message ?? "no answer"}`);
}

async function menu(): Promise<void> {
  const paused = lastStatus?.paused === true;
  const items: (vscode.QuickPickItem & { run: () => unknown })[] = [
    paused
      ? { label: "$(debug-continue) Resume background search", run: () => setPaused(false) }
      : { label: "$(debug-pause) Pause background search", run: () => setPaused(true) },
    { label: "$(debug-restart) Restart sidecar", run: () => restart("asked for") },
    { label: "$(output) Show log", run: () => output.show(true) },
    { label: "$(zap) Prove goal at cursor", run: () => proveGoalAtCursor() },
    { label: "$(graph) Open dashboard", run: () => openDashboard() },
    { label: "$(cloud-download) Import proofs found elsewhere", run: () => importProofs() },
  ];
  const pick = await vscode.window.showQuickPick(items, { placeHolder: "auto-prove" });
  if (pick !== undefined) {
    await pick.run();
  }
}

function onConfiguration(e: vscode.ConfigurationChangeEvent): void {
  if (!e.affectsConfiguration(SECTION)) {
    return;
  }
  if (RESTART_KEYS.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) {
    void restart("autoProve.serverPath or autoProve.python changed");
    return;
  }
  if (LIVE_KEYS.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) {
    const lc = client;
    if (lc !== undefined && lc.state === State.Running) {
      const payload = configurationPayload(currentSettings());
      output.appendLine(`settings changed: ${JSON.stringify(payload.autoProve)}`);
      void lc.sendNotification(DidChangeConfigurationNotification.type, { settings: payload });
    }
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("auto-prove");
  statusItem = vscode.window.createStatusBarItem("autoProve.status", vscode.StatusBarAlignment.Left, 0);
  statusItem.name = "auto-prove";
  statusItem.command = "auto-prove.menu";
  context.subscriptions.push(
    output,
    statusItem,
    vscode.commands.registerCommand("auto-prove.proveGoalAtCursor", proveGoalAtCursor),
    vscode.commands.registerCommand("auto-prove.pause", () => setPaused(true)),
    vscode.commands.registerCommand("auto-prove.resume", () => setPaused(false)),
    vscode.commands.registerCommand("auto-prove.restart", () => restart("asked for")),
    vscode.commands.registerCommand("auto-prove.showLog", () => output.show(true)),
    vscode.commands.registerCommand("auto-prove.openDashboard", openDashboard),
    vscode.commands.registerCommand("auto-prove.importProofs", importProofs),
    vscode.commands.registerCommand("auto-prove.menu", menu),
    vscode.workspace.onDidChangeConfiguration(onConfiguration),
  );
  await serialized(start);
}

export function deactivate(): Promise<void> {
  return serialized(stop);
}
