import { SANDBOX_MARKER_ENV } from '../container-runtime.js';
import type { SandboxPaths } from './sandbox-layout.js';

/** The environment of a server and of exec'd commands: the host's, re-rooted into the member's sandbox. */
export function sandboxEnv(baseEnv: NodeJS.ProcessEnv, paths: SandboxPaths): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(baseEnv)) {
    // PLAYWRIGHT_MCP_* variables override the server's config file and flags (port, host, browser): inherited
    // from the developer's shell they would silently change what the pool starts. NODE_OPTIONS may carry
    // loaders or --inspect meant for the test process, not for the server.
    if (key.startsWith('PLAYWRIGHT_MCP_') || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return {
    ...env,
    HOME: paths.homeDir,
    TMPDIR: paths.tmpDir,
    TMP: paths.tmpDir,
    TEMP: paths.tmpDir,
    // Set explicitly because a host that sets them would otherwise share caches across members.
    XDG_CONFIG_HOME: `${paths.homeDir}/.config`,
    XDG_CACHE_HOME: `${paths.homeDir}/.cache`,
    XDG_DATA_HOME: `${paths.homeDir}/.local/share`,
    [SANDBOX_MARKER_ENV]: paths.dir,
  };
}

/** sandboxEnv plus the exec environment contract of ContainerRuntime.exec. */
export function execEnv(baseEnv: NodeJS.ProcessEnv, paths: SandboxPaths, serverPid: number, port: number): NodeJS.ProcessEnv {
  return {
    ...sandboxEnv(baseEnv, paths),
    MCP_HOME: paths.homeDir,
    MCP_TMPDIR: paths.tmpDir,
    MCP_WORKDIR: paths.workDir,
    MCP_SERVER_PID: String(serverPid),
    MCP_PORT: String(port),
    // The value of the marker sandboxEnv sets (SANDBOX_MARKER_ENV), under its contract name for cleanup scripts.
    MCP_SANDBOX: paths.dir,
  };
}
