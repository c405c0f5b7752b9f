// Finding the sidecar: which command starts `auto-prove lsp`. Pure logic over a Probe, so that it can be tested
// without VS Code (src/test/discovery.test.ts) and used with the real file system (extension.ts).

export interface Probe {
  /** Whether `path` is an executable file. */
  isExecutable(path: string): boolean;
  /** `name` looked up on PATH, as a full path, or undefined. */
  which(name: string): string | undefined;
  /** Whether `python` runs and has the sidecar's language server (the `sidecar` package with the `lsp` extra). */
  pythonHasSidecar(python: string): boolean;
}

export interface SidecarSettings {
  serverPath?: string;
  python?: string;
}

export interface Found {
  ok: true;
  command: string;
  args: string[];
  /** Which rule found it, for the log. */
  via: "autoProve.serverPath" | "autoProve.python" | "PATH" | "python3 on PATH";
}

export interface NotFound {
  ok: false;
  /** One message that says what was tried and how to fix it. */
  message: string;
}

export const INSTALL_HINT =
  "Install it with `pip install 'auto-prove[lsp]'` (so that `auto-prove` is on PATH), or set " +
  "`autoProve.serverPath` to the `auto-prove` executable, or `autoProve.python` to a Python that has auto-prove.";

/**
 * The command that starts the sidecar: the setting `autoProve.serverPath` (the `auto-prove` executable), else
 * the setting `autoProve.python` (`python -m sidecar lsp`), else `auto-prove` on PATH, else a `python3` on PATH
 * that has the package. A setting that is set but does not work is reported as such, not skipped: the user
 * asked for it.
 */
export function discoverSidecar(settings: SidecarSettings, probe: Probe): Found | NotFound {
  const serverPath = (settings.serverPath ?? "").trim();
  if (serverPath) {
    if (probe.isExecutable(serverPath)) {
      return { ok: true, command: serverPath, args: ["lsp"], via: "autoProve.serverPath" };
    }
    return {
      ok: false,
      message: `auto-prove: autoProve.serverPath is "${serverPath}", which is not an executable file. ` +
        "Point it at the `auto-prove` executable (e.g. the one in your virtual environment's bin folder), " +
        "or clear it to use `auto-prove` from PATH.",
    };
  }
  const python = (settings.python ?? "").trim();
  if (python) {
    if (probe.pythonHasSidecar(python)) {
      return { ok: true, command: python, args: ["-m", "sidecar", "lsp"], via: "autoProve.python" };
    }
    return {
      ok: false,
      message: `auto-prove: autoProve.python is "${python}", which does not run or cannot import auto-prove. ` +
        `Install it there (${python} -m pip install 'auto-prove[lsp]'), or clear the setting.`,
    };
  }
  const onPath = probe.which("auto-prove");
  if (onPath) {
    return { ok: true, command: onPath, args: ["lsp"], via: "PATH" };
  }
  const python3 = probe.which("python3");
  if (python3 && probe.pythonHasSidecar(python3)) {
    return { ok: true, command: python3, args: ["-m", "sidecar", "lsp"], via: "python3 on PATH" };
  }
  return { ok: false, message: "auto-prove: the sidecar was not found. " + INSTALL_HINT };
}
