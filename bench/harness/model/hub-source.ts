/**
 * What MODEL_PATH names: a model folder, or a Hugging Face repo (`Qwen/Qwen3-0.6B`, optionally
 * `@revision`) resolved through the hub cache by model/hub.ts. Pure: the settings reader decides
 * once, with the filesystem check passed in.
 */
export type ModelSource =
  | {
      kind: "folder";
      /** Absolute model folder. */
      dir: string;
      /** True for the default synthetic model, which setup generates when it is missing. */
      isDefault: boolean;
    }
  | {
      kind: "hub";
      /** `org/name`, as the hub spells it. */
      repoId: string;
      /** Branch, tag or commit hash; "main" when the name carries no `@revision`. */
      revision: string;
    };

/** Where and how hub names resolve; every field comes from the environment through settings.ts. */
export interface HubConfig {
  /** The hub cache root (HF_HUB_CACHE, else $HF_HOME/hub, HF_HOME defaulting to ~/.cache/huggingface). */
  cacheDir: string;
  /** Hub base URL without a trailing slash (HF_ENDPOINT, default https://huggingface.co). */
  endpoint: string;
  /** HF_HUB_OFFLINE: the cache only, no request at all. */
  offline: boolean;
  /** HF_TOKEN, sent as `Authorization: Bearer`; null to fall back to tokenFile. */
  token: string | null;
  /** The token file huggingface_hub's `hf auth login` writes (HF_TOKEN_PATH, else $HF_HOME/token); read only when a request is made. */
  tokenFile: string;
}

export const DEFAULT_REVISION = "main";
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** A full commit hash: a revision that names one snapshot forever (huggingface_hub's REGEX_COMMIT_HASH). */
export const isCommitHash = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision);

// Repo ids: one slash, each part letters, digits, '-', '_', '.' (the hub's own rule), not starting with '.'.
const HUB_NAME = /^([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*)(?:@(.+))?$/;

/**
 * `org/name` or `org/name@revision` when `value` is not a path that exists; otherwise a folder. A
 * folder that exists always wins, so a local copy named like a repo is never looked up; so does a
 * path whose first part is a folder here (`models/qwen3-typo` is a mistyped folder, not a repo).
 */
export function parseModelPath(value: string, resolvePath: (p: string) => string, exists: (p: string) => boolean): ModelSource {
  const dir = resolvePath(value);
  const match = HUB_NAME.exec(value);
  if (!match || exists(dir) || exists(resolvePath(value.split("/")[0]))) return { kind: "folder", dir, isDefault: false };
  return { kind: "hub", repoId: match[1], revision: match[2] ?? DEFAULT_REVISION };
}

/** huggingface_hub's truthy environment values (constants._is_true). */
export const isTrueEnv = (value: string | undefined): boolean => value !== undefined && ["1", "ON", "YES", "TRUE"].includes(value.toUpperCase());

/** `Qwen/Qwen3-0.6B@main`: the name as the user would type it. */
export const hubName = (source: { repoId: string; revision: string }): string => `${source.repoId}@${source.revision}`;
