/**
 * The CustomResourceDefinitions the simulator ships (byte-for-byte upstream copies, see crds/SOURCES.md): the
 * Dynamo `DynamoGraphDeployment` and the Kubeflow Trainer CRDs at the two versions aicr meets.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseAllDocuments } from "yaml"
import type { KubeObject } from "./types.ts"

const DIR = join(import.meta.dirname, "..", "crds")

const FILES = {
  dynamo: ["nvidia.com_dynamographdeployments.v1alpha1.2025-10.yaml"],
  "kubeflow-trainer-v2.1.0": [
    "kubeflow-trainer-v2.1.0/trainer.kubeflow.org_clustertrainingruntimes.yaml",
    "kubeflow-trainer-v2.1.0/trainer.kubeflow.org_trainingruntimes.yaml",
    "kubeflow-trainer-v2.1.0/trainer.kubeflow.org_trainjobs.yaml"
  ],
  "kubeflow-trainer-v2.2.0": [
    "kubeflow-trainer-v2.2.0/trainer.kubeflow.org_clustertrainingruntimes.yaml",
    "kubeflow-trainer-v2.2.0/trainer.kubeflow.org_trainingruntimes.yaml",
    "kubeflow-trainer-v2.2.0/trainer.kubeflow.org_trainjobs.yaml"
  ]
} as const

export type BundledCrdSet = keyof typeof FILES

export const BUNDLED_CRD_SETS = Object.keys(FILES) as ReadonlyArray<BundledCrdSet>

const cache = new Map<string, ReadonlyArray<KubeObject>>()

const load = (file: string): ReadonlyArray<KubeObject> => {
  const cached = cache.get(file)
  if (cached !== undefined) return cached
  const objects = parseAllDocuments(readFileSync(join(DIR, file), "utf8"))
    .map((document) => document.toJS({ maxAliasCount: -1 }) as KubeObject | null)
    .filter((object): object is KubeObject => object !== null)
  cache.set(file, objects)
  return objects
}

/** The CRD objects of a bundled set (parsed once per process; callers get their own copies). */
export const bundledCrds = (set: BundledCrdSet): Array<KubeObject> => FILES[set].flatMap((file) => load(file).map((object) => structuredClone(object)))
