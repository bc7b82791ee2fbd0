import { readFileSync } from "node:fs"
import { parse } from "yaml"
import { describe, expect, it } from "vitest"
import {
  type BuiltinKind,
  decodeBuiltin,
  strictDecodingError,
  unknownFieldWarning,
  validateBuiltin,
  validateBuiltinUpdate,
  validateMetadata
} from "../src/builtin.ts"
import type { KubeObject } from "../src/types.ts"
import { statusErrorOf } from "./support/status.ts"

const kindOf = (apiVersion: string, kind: string): BuiltinKind => {
  const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/") as [string, string]) : ["", apiVersion]
  return { group, version, kind }
}

const kindOfObject = (object: KubeObject) => kindOf(object.apiVersion, object.kind)
const decode = (object: unknown) => decodeBuiltin(kindOfObject(object as KubeObject), object as KubeObject)
const validate = (object: unknown) => validateBuiltin(kindOfObject(object as KubeObject), object as KubeObject)
const validateUpdate = (next: unknown, old: unknown) => validateBuiltinUpdate(kindOfObject(next as KubeObject), next as KubeObject, old as KubeObject)
const clone = <T>(value: T): T => structuredClone(value)

const LABEL_NAME_PART =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " +
  "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
const LABEL_VALUE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " +
  "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
const DNS_LABEL =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character " +
  "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

// ---------------------------------------------------------------------------------------------------------------
// Realistic manifests of every kind the simulator serves

const JOB = {
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "train-llama", namespace: "ml", labels: { app: "train" }, uid: "7f1c3f5e-3c1a-4b8e-9f60-6f4b7f5f0a11", resourceVersion: "42", generation: 1, creationTimestamp: "2025-11-03T10:00:00Z" },
  spec: {
    completions: 4,
    parallelism: 2,
    completionMode: "Indexed",
    backoffLimit: 3,
    ttlSecondsAfterFinished: 600,
    podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "trainer", operator: "In", values: [42] } }] },
    template: {
      metadata: { labels: { app: "train" }, annotations: { "kubectl.kubernetes.io/default-container": "trainer" } },
      spec: {
        restartPolicy: "Never",
        containers: [
          {
            name: "trainer",
            image: "nvcr.io/nvidia/pytorch:25.01-py3",
            command: ["torchrun", "--nproc-per-node=8", "train.py"],
            env: [{ name: "NCCL_DEBUG", value: "INFO" }, { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            resources: { limits: { "nvidia.com/gpu": 8, memory: "512Gi" }, requests: { cpu: "32", memory: "512Gi" } },
            volumeMounts: [{ name: "dshm", mountPath: "/dev/shm" }],
            ports: [{ name: "metrics", containerPort: 9090, protocol: "TCP" }]
          }
        ],
        volumes: [{ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "64Gi" } }],
        tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
        nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" }
      }
    }
  },
  status: { startTime: "2025-11-03T10:00:01Z", active: 2, ready: 2, uncountedTerminatedPods: {} }
}

const RESOURCE_CLAIM_TEMPLATE = {
  apiVersion: "resource.k8s.io/v1",
  kind: "ResourceClaimTemplate",
  metadata: { name: "single-gpu", namespace: "ml" },
  spec: {
    metadata: { labels: { "app.kubernetes.io/part-of": "train" } },
    spec: {
      devices: {
        requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", count: 1 } }],
        config: [
          {
            requests: ["gpu"],
            opaque: { driver: "gpu.nvidia.com", parameters: { apiVersion: "resource.nvidia.com/v1beta1", kind: "GpuConfig", sharing: { strategy: "TimeSlicing" } } }
          }
        ]
      }
    }
  }
}

const VALID: ReadonlyArray<Record<string, unknown>> = [
  {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "gpu-operator", labels: { "kubernetes.io/metadata.name": "gpu-operator", "pod-security.kubernetes.io/enforce": "privileged" } },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" }
  },
  {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: "gpu-node-1",
      labels: { "kubernetes.io/hostname": "gpu-node-1", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "8" },
      annotations: { "node.alpha.kubernetes.io/ttl": "0" }
    },
    spec: { podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24"], providerID: "kind://docker/kind/gpu-node-1", taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }] },
    status: {
      capacity: { cpu: "192", memory: "2113178524Ki", "nvidia.com/gpu": "8", pods: "110" },
      allocatable: { cpu: "191500m", memory: "2112000000Ki", "nvidia.com/gpu": 8, pods: "110" },
      conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: "2025-11-03T10:00:00Z", lastTransitionTime: "2025-11-01T08:00:00Z", reason: "KubeletReady", message: "kubelet is posting ready status" }],
      addresses: [{ type: "InternalIP", address: "172.18.0.3" }, { type: "Hostname", address: "gpu-node-1" }],
      nodeInfo: {
        machineID: "m", systemUUID: "s", bootID: "b", kernelVersion: "6.8.0", osImage: "Ubuntu 24.04", containerRuntimeVersion: "containerd://2.1.0",
        kubeletVersion: "v1.35.0", kubeProxyVersion: "v1.35.0", operatingSystem: "linux", architecture: "amd64"
      },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } }
    }
  },
  {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "inference-0", namespace: "ml", labels: { app: "inference" }, ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "inference", uid: "0f5d8c1e-41b6-4f4a-9a8e-2d0c9b1e7a10", controller: true, blockOwnerDeletion: true }] },
    spec: {
      restartPolicy: "Always",
      serviceAccountName: "inference",
      containers: [
        {
          name: "server",
          image: "nvcr.io/nvidia/tritonserver:25.01-py3",
          args: ["tritonserver", "--model-repository=/models"],
          ports: [{ name: "http", containerPort: 8000 }, { name: "grpc", containerPort: 8001 }],
          readinessProbe: { httpGet: { path: "/v2/health/ready", port: "http" }, periodSeconds: 5 },
          livenessProbe: { tcpSocket: { port: 8001 }, initialDelaySeconds: 30 },
          resources: { limits: { memory: "64Gi" }, requests: { cpu: "8", memory: "64Gi" }, claims: [{ name: "gpu" }] },
          volumeMounts: [{ name: "models", mountPath: "/models", readOnly: true }, { name: "token", mountPath: "/var/run/secrets/tokens" }],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true, runAsUser: 1000 }
        }
      ],
      resourceClaims: [{ name: "gpu", resourceClaimTemplateName: "single-gpu" }],
      volumes: [
        { name: "models", persistentVolumeClaim: { claimName: "models" } },
        { name: "token", projected: { sources: [{ serviceAccountToken: { audience: "vault", expirationSeconds: 3600, path: "token" } }] } }
      ],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "In", values: ["true"] }] }] } } },
      tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 300 }],
      terminationGracePeriodSeconds: 30
    },
    status: {
      phase: "Running",
      podIP: "10.244.1.7",
      startTime: "2025-11-03T10:00:00Z",
      conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2025-11-03T10:01:00Z" }],
      containerStatuses: [{ name: "server", ready: true, restartCount: 0, image: "nvcr.io/nvidia/tritonserver:25.01-py3", imageID: "sha256:abc", started: true, state: { running: { startedAt: "2025-11-03T10:00:30Z" } } }]
    }
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "inference", namespace: "ml" },
    spec: {
      type: "ClusterIP",
      clusterIP: "10.96.12.34",
      clusterIPs: ["10.96.12.34"],
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      selector: { app: "inference" },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }, { name: "grpc", port: 8001, targetPort: 8001, protocol: "TCP" }],
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster"
    },
    status: { loadBalancer: {} }
  },
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "train-config", namespace: "ml" }, data: { "config.yaml": "epochs: 3\n", LR: "0.0001" }, binaryData: { "vocab.bin": "AAECAw==" } },
  {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "inference-tls", namespace: "ml" },
    type: "kubernetes.io/tls",
    data: { "tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==", "tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==" },
    stringData: { "ca.crt": "-----BEGIN CERTIFICATE-----\n" }
  },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "inference", namespace: "ml" }, automountServiceAccountToken: false, imagePullSecrets: [{ name: "ngc" }], secrets: [{ name: "inference-token" }] },
  {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "inference-0.1845e2a3b4c5d6e7", namespace: "ml" },
    involvedObject: { kind: "Pod", namespace: "ml", name: "inference-0", uid: "0f5d8c1e-41b6-4f4a-9a8e-2d0c9b1e7a11", apiVersion: "v1", fieldPath: "spec.containers{server}" },
    reason: "Pulled",
    message: "Container image \"nvcr.io/nvidia/tritonserver:25.01-py3\" already present on machine",
    source: { component: "kubelet", host: "gpu-node-1" },
    firstTimestamp: "2025-11-03T10:00:10Z",
    lastTimestamp: "2025-11-03T10:00:10Z",
    count: 1,
    type: "Normal",
    eventTime: null,
    reportingComponent: "kubelet",
    reportingInstance: "gpu-node-1"
  },
  {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: "train-llama.1845e2a3b4c5d6e8", namespace: "ml" },
    eventTime: "2025-11-03T10:00:00.123456Z",
    reportingController: "job-controller",
    reportingInstance: "kube-controller-manager-1",
    action: "Create",
    reason: "SuccessfulCreate",
    regarding: { kind: "Job", namespace: "ml", name: "train-llama", uid: "7f1c3f5e-3c1a-4b8e-9f60-6f4b7f5f0a11", apiVersion: "batch/v1" },
    note: "Created pod: train-llama-0-abcde",
    type: "Normal"
  },
  {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "inference-7x2kq", namespace: "ml", labels: { "kubernetes.io/service-name": "inference", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" } },
    addressType: "IPv4",
    endpoints: [
      {
        addresses: ["10.244.1.7"],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: "gpu-node-1",
        targetRef: { kind: "Pod", namespace: "ml", name: "inference-0", uid: "0f5d8c1e-41b6-4f4a-9a8e-2d0c9b1e7a10" },
        zone: "us-east-1a"
      }
    ],
    ports: [{ name: "http", port: 8000, protocol: "TCP", appProtocol: "http" }]
  },
  JOB,
  {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "kube-scheduler", namespace: "kube-system" },
    spec: { holderIdentity: "scheduler-1_4b7e", leaseDurationSeconds: 15, acquireTime: "2025-11-03T09:00:00.000000Z", renewTime: "2025-11-03T10:00:00.123456Z", leaseTransitions: 2 }
  },
  parse(readFileSync(new URL("../crds/kubeflow-trainer-v2.2.0/trainer.kubeflow.org_trainjobs.yaml", import.meta.url), "utf8")) as Record<string, unknown>,
  {
    apiVersion: "resource.k8s.io/v1",
    kind: "DeviceClass",
    metadata: { name: "gpu.nvidia.com" },
    spec: { selectors: [{ cel: { expression: "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'" } }] }
  },
  {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceSlice",
    metadata: { name: "gpu-node-1-gpu.nvidia.com-x7k2p" },
    spec: {
      driver: "gpu.nvidia.com",
      nodeName: "gpu-node-1",
      pool: { name: "gpu-node-1", generation: 1, resourceSliceCount: 1 },
      devices: [
        {
          name: "gpu-0",
          attributes: {
            type: { string: "gpu" },
            productName: { string: "NVIDIA H100 80GB HBM3" },
            driverVersion: { version: "550.90.7" },
            index: { int: 0 },
            uuid: { string: "GPU-4a1b2c3d-0000-1111-2222-333344445555" }
          },
          capacity: { memory: { value: "80Gi" } }
        }
      ]
    }
  },
  {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceClaim",
    metadata: { name: "inference-0-gpu-kd8s2", namespace: "ml" },
    spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", allocationMode: "ExactCount", count: 1 } }] } },
    status: {
      allocation: {
        devices: { results: [{ request: "gpu", driver: "gpu.nvidia.com", pool: "gpu-node-1", device: "gpu-0" }] },
        nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["gpu-node-1"] }] }] }
      },
      reservedFor: [{ resource: "pods", name: "inference-0", uid: "0f5d8c1e-41b6-4f4a-9a8e-2d0c9b1e7a10" }]
    }
  },
  RESOURCE_CLAIM_TEMPLATE,
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "pod-reader", namespace: "ml" }, rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] }] },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "metrics-reader", labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } },
    rules: [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }, { apiGroups: ["resource.k8s.io"], resources: ["resourceclaims", "resourceslices"], verbs: ["get", "list", "watch"] }]
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "read-pods", namespace: "ml" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
    subjects: [{ kind: "ServiceAccount", name: "inference", namespace: "ml" }, { kind: "User", name: "jane@example.com", apiGroup: "rbac.authorization.k8s.io" }]
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "gpu-operator" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "gpu-operator" },
    subjects: [{ kind: "ServiceAccount", name: "gpu-operator", namespace: "gpu-operator" }, { kind: "Group", name: "system:masters", apiGroup: "rbac.authorization.k8s.io" }]
  },
  {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    metadata: {},
    spec: { resourceAttributes: { namespace: "ml", verb: "create", group: "resource.k8s.io", resource: "resourceclaims" } }
  },
  {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    metadata: { name: "inference", namespace: "ml" },
    spec: { audiences: ["https://kubernetes.default.svc"], expirationSeconds: 3600, boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "inference-0", uid: "0f5d8c1e-41b6-4f4a-9a8e-2d0c9b1e7a10" } }
  }
]

describe("valid objects of every built-in kind", () => {
  it("covers the 23 kinds the simulator serves", () => {
    expect(new Set(VALID.map((object) => `${String(object["apiVersion"])}/${String(object["kind"])}`)).size).toBe(23)
  })

  it.each(VALID.map((object) => [`${String(object["apiVersion"])} ${String(object["kind"])}`, object] as const))("%s decodes without unknown fields and validates", (_, object) => {
    expect(decode(object)).toEqual({ unknownFields: [] })
    expect(validate(object)).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("decodeBuiltin", () => {
  it("answers 400 BadRequest with Go's unmarshal error for a type mismatch", () => {
    const job = clone(JOB) as Record<string, any>
    job["spec"].parallelism = "two"
    const error = statusErrorOf(() => decode(job))
    expect(error.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'Job in version "v1" cannot be handled as a Job: json: cannot unmarshal string into Go struct field JobSpec.spec.parallelism of type int32',
      reason: "BadRequest",
      code: 400
    })
  })

  it("returns the unknown fields in document order, list items with their index", () => {
    const job = clone(JOB) as Record<string, any>
    job["spec"].foo = 1
    job["spec"].template.spec.containers[0].bogus = true
    job["spec"].bar = { baz: 1 }
    expect(decode(job)).toEqual({ unknownFields: ["spec.template.spec.containers[0].bogus", "spec.foo", "spec.bar"] })
  })

  it("builds the Strict 400 and the Warn warning texts", () => {
    const error = strictDecodingError({ group: "batch", version: "v1", kind: "Job" }, ["spec.foo", "spec.bar"])
    expect([error.code, error.reason, error.message]).toEqual([
      400,
      "BadRequest",
      'Job in version "v1" cannot be handled as a Job: strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'
    ])
    expect(unknownFieldWarning("spec.foo")).toBe('unknown field "spec.foo"')
  })

  it.each([
    ["a float for an int32", { containerPort: 80.5 }, "json: cannot unmarshal number 80.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"],
    ["an int32 overflow", { containerPort: 3000000000 }, "json: cannot unmarshal number 3000000000 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"],
    ["a bool for a string", { containerPort: 80, hostPort: 80, name: true }, "json: cannot unmarshal bool into Go struct field ContainerPort.spec.containers.ports.name of type string"]
  ])("reports %s with the struct and the JSON path without indices", (_, port, detail) => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "i", ports: [port] }] } }
    expect(statusErrorOf(() => decode(pod)).message).toBe(`Pod in version "v1" cannot be handled as a Pod: ${detail}`)
  })

  it("names the element type for a wrong list item and the map for a wrong map value", () => {
    const listItem = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: ["busybox"] } }
    expect(statusErrorOf(() => decode(listItem)).message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container'
    )
    const mapValue = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", labels: { tier: 1 } } }
    expect(statusErrorOf(() => decode(mapValue)).message).toBe(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string'
    )
  })

  it("takes numbers for quantities and refuses a malformed quantity", () => {
    const pod = (limits: unknown) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "i", resources: { limits } }] } })
    expect(decode(pod({ cpu: 2, "nvidia.com/gpu": 1, memory: "1.5Gi" }))).toEqual({ unknownFields: [] })
    expect(statusErrorOf(() => decode(pod({ cpu: "two" }))).message).toBe(
      `Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`
    )
  })

  it("decodes an int-or-string port (and an error inside it stops the decode first)", () => {
    const pod = (port: unknown) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "i", ports: [{ containerPort: "80" }], livenessProbe: { httpGet: { port } } }] }
    })
    expect(statusErrorOf(() => decode(pod("http"))).message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32'
    )
    expect(statusErrorOf(() => decode(pod(true))).message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal bool into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type int32'
    )
  })

  it("refuses data that is not base64", () => {
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { token: "c2VjcmV0!" } }
    expect(statusErrorOf(() => decode(secret)).message).toBe('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 8')
  })

  it("parses times as metav1.Time (RFC 3339) and MicroTime (six fraction digits)", () => {
    const lease = (renewTime: unknown) => ({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "l" }, spec: { renewTime } })
    expect(statusErrorOf(() => decode(lease("2025-11-03T10:00:00.123Z"))).message).toBe(
      'Lease in version "v1" cannot be handled as a Lease: parsing time "2025-11-03T10:00:00.123Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".123Z" as ".000000"'
    )
    expect(statusErrorOf(() => decode(lease(1700000000))).message).toBe(
      'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal number into Go struct field LeaseSpec.spec.renewTime of type string'
    )
    const pod = (creationTimestamp: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", creationTimestamp } })
    expect(decode(pod("2025-11-03T10:00:00.5+01:00"))).toEqual({ unknownFields: [] })
    expect(statusErrorOf(() => decode(pod("2025-11-03 10:00:00"))).message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: parsing time "2025-11-03 10:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse " 10:00:00" as "T"'
    )
    expect(statusErrorOf(() => decode(pod("2025-02-30T10:00:00Z"))).message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: parsing time "2025-02-30T10:00:00Z": day out of range'
    )
  })

  it("does not look into raw extensions, and reports unknown fields inside map values", () => {
    const template = clone(RESOURCE_CLAIM_TEMPLATE) as Record<string, any>
    template["spec"].spec.devices.config[0].opaque.parameters.anything = { goes: [1, "two"] }
    expect(decode(template)).toEqual({ unknownFields: [] })
    const slice = clone(VALID.find((object) => object["kind"] === "ResourceSlice")!) as Record<string, any>
    slice["spec"].devices[0].attributes.type.bogus = 1
    expect(decode(slice)).toEqual({ unknownFields: ["spec.devices[0].attributes.type.bogus"] })
  })

  it("knows nothing of other kinds", () => {
    expect(decodeBuiltin({ group: "apps", version: "v1", kind: "Deployment" }, { apiVersion: "apps/v1", kind: "Deployment", metadata: {}, foo: 1 })).toEqual({ unknownFields: [] })
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("validateBuiltin", () => {
  it("requires a Job's restartPolicy to be OnFailure or Never (a missing one defaults to Always)", () => {
    const job = clone(JOB) as Record<string, any>
    delete job["spec"].template.spec.restartPolicy
    delete job["spec"].podFailurePolicy
    expect(validate(job)).toEqual([
      { reason: "FieldValueRequired", message: 'Required value: valid values: "OnFailure", "Never"', field: "spec.template.spec.restartPolicy" }
    ])
    job["spec"].template.spec.restartPolicy = "Sometimes"
    expect(validate(job)).toEqual([
      { reason: "FieldValueNotSupported", message: 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"', field: "spec.template.spec.restartPolicy" },
      { reason: "FieldValueNotSupported", message: 'Unsupported value: "Sometimes": supported values: "OnFailure", "Never"', field: "spec.template.spec.restartPolicy" }
    ])
  })

  it("refuses a Job whose name does not fit the job-name label of its pods", () => {
    const job = clone(JOB) as Record<string, any>
    const name = `train-${"x".repeat(60)}`
    job["metadata"].name = name
    job["spec"].completionMode = "NonIndexed"
    expect(validate(job)).toEqual([{ reason: "FieldValueInvalid", message: `Invalid value: "${name}": must be no more than 63 bytes`, field: "spec.template.labels" }])
  })

  it("checks label keys and values of the object, the pod template and the selectors", () => {
    const job = clone(JOB) as Record<string, any>
    job["metadata"].labels = { "bad key!": "ok", "example.com/team": "-ml-" }
    job["spec"].template.spec.nodeSelector = { "Example.COM/gpu": "h100" }
    expect(validate(job)).toEqual([
      { reason: "FieldValueInvalid", message: `Invalid value: "bad key!": ${LABEL_NAME_PART}`, field: "metadata.labels" },
      { reason: "FieldValueInvalid", message: `Invalid value: "-ml-": ${LABEL_VALUE}`, field: "metadata.labels" },
      {
        reason: "FieldValueInvalid",
        message:
          'Invalid value: "Example.COM/gpu": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character ' +
          "(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        field: "spec.template.spec.nodeSelector"
      }
    ])
    const service = clone(VALID.find((object) => object["kind"] === "Service")!) as Record<string, any>
    service["spec"].selector = { app: "x".repeat(64) }
    expect(validate(service)).toEqual([{ reason: "FieldValueInvalid", message: `Invalid value: "${"x".repeat(64)}": must be no more than 63 bytes`, field: "spec.selector" }])
  })

  it("limits all annotations of an object to 256 KiB together", () => {
    const config = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", annotations: { a: "x".repeat(200_000), b: "y".repeat(62_142) } } }
    expect(validate(config)).toEqual([])
    config.metadata.annotations.b += "y"
    expect(validate(config)).toEqual([{ reason: "FieldValueTooLong", message: "Too long: may not be more than 262144 bytes", field: "metadata.annotations" }])
  })

  it("requires containers with a name and an image", () => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "Main", ports: [{ containerPort: 0 }] }, { image: "busybox" }] } }
    expect(validate(pod)).toEqual([
      { reason: "FieldValueInvalid", message: `Invalid value: "Main": ${DNS_LABEL}`, field: "spec.containers[0].name" },
      { reason: "FieldValueRequired", message: "Required value", field: "spec.containers[0].image" },
      { reason: "FieldValueRequired", message: "Required value", field: "spec.containers[0].ports[0].containerPort" },
      { reason: "FieldValueRequired", message: "Required value", field: "spec.containers[1].name" }
    ])
    expect(validate({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [] } })).toEqual([
      { reason: "FieldValueRequired", message: "Required value", field: "spec.containers" }
    ])
  })

  it("requires exactly one of exactly and firstAvailable in a device request", () => {
    const template = clone(RESOURCE_CLAIM_TEMPLATE) as Record<string, any>
    delete template["spec"].spec.devices.requests[0].exactly
    expect(validate(template)).toEqual([
      { reason: "FieldValueRequired", message: "Required value: exactly one of `exactly` or `firstAvailable` is required", field: "spec.spec.devices.requests[0]" }
    ])
    const claim = {
      apiVersion: "resource.k8s.io/v1",
      kind: "ResourceClaim",
      metadata: { name: "c" },
      spec: { devices: { requests: [{ name: "GPU", exactly: { deviceClassName: "gpu.nvidia.com", allocationMode: "All", count: 2 } }] } }
    }
    expect(validate(claim)).toEqual([
      { reason: "FieldValueInvalid", message: `Invalid value: "GPU": ${DNS_LABEL}`, field: "spec.devices.requests[0].name" },
      { reason: "FieldValueInvalid", message: "Invalid value: 2: must not be specified when allocationMode is 'All'", field: "spec.devices.requests[0].exactly.count" }
    ])
  })

  it("requires a CEL selector in a DeviceClass without evaluating it", () => {
    const deviceClass = { apiVersion: "resource.k8s.io/v1", kind: "DeviceClass", metadata: { name: "d" }, spec: { selectors: [{ cel: { expression: "this is not CEL" } }, {}] } }
    expect(validate(deviceClass)).toEqual([{ reason: "FieldValueRequired", message: "Required value", field: "spec.selectors[1].cel" }])
  })

  it("reports enum values the schema does not list, in the order the Go validation lists them", () => {
    const job = clone(JOB) as Record<string, any>
    job["spec"].completionMode = "Sometimes"
    job["spec"].template.spec.containers[0].imagePullPolicy = "Maybe"
    expect(validate(job)).toEqual([
      { reason: "FieldValueNotSupported", message: 'Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"', field: "spec.completionMode" },
      { reason: "FieldValueNotSupported", message: 'Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"', field: "spec.template.spec.containers[0].imagePullPolicy" }
    ])
  })

  it("checks RBAC rules and bindings", () => {
    expect(validate({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "r" }, rules: [{ nonResourceURLs: ["/healthz"], verbs: [] }] })).toEqual([
      { reason: "FieldValueRequired", message: "Required value: verbs must contain at least one value", field: "rules[0].verbs" },
      { reason: "FieldValueInvalid", message: 'Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs', field: "rules[0].nonResourceURLs" }
    ])
    expect(
      validate({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "b" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "r" },
        subjects: [{ kind: "ServiceAccount", name: "default" }]
      })
    ).toEqual([
      { reason: "FieldValueNotSupported", message: 'Unsupported value: "Role": supported values: "ClusterRole"', field: "roleRef.kind" },
      { reason: "FieldValueRequired", message: "Required value", field: "subjects[0].namespace" }
    ])
  })

  it("checks a secret's type-specific keys and the keys of config maps", () => {
    expect(validate({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, type: "kubernetes.io/tls", data: { "tls.crt": "YQ==" } })).toEqual([
      { reason: "FieldValueRequired", message: "Required value", field: "data[tls.key]" }
    ])
    expect(validate({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { "a b": "x" } })).toEqual([
      {
        reason: "FieldValueInvalid",
        message: "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        field: "data[a b]"
      }
    ])
  })

  it("checks the strict rules of events.k8s.io events", () => {
    const event = { apiVersion: "events.k8s.io/v1", kind: "Event", metadata: { name: "e", namespace: "ml" }, regarding: { kind: "Pod", namespace: "ml", name: "p" }, type: "Info" }
    expect(validate(event)).toEqual([
      { reason: "FieldValueRequired", message: "Required value", field: "eventTime" },
      { reason: "FieldValueInvalid", message: 'Invalid value: "": has invalid value: Info', field: "type" }
    ])
  })

  it("checks the metadata of custom resources", () => {
    expect(validateMetadata({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", finalizers: ["cleanup"], labels: { ok: "yes" } } })).toEqual([])
    expect(validateMetadata({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", labels: { "a/b/c": "x" } } })).toEqual([
      {
        reason: "FieldValueInvalid",
        message:
          "Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " +
          "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        field: "metadata.labels"
      }
    ])
  })
})

// ---------------------------------------------------------------------------------------------------------------

describe("validateBuiltinUpdate", () => {
  it("keeps a running Job's template immutable", () => {
    const next = clone(JOB) as Record<string, any>
    next["spec"].template.spec.containers[0].image = "nvcr.io/nvidia/pytorch:25.02-py3"
    const causes = validateUpdate(next, JOB)
    expect(causes).toEqual([
      { reason: "FieldValueInvalid", message: `Invalid value: core.PodTemplateSpec${JSON.stringify(next["spec"].template)}: field is immutable`, field: "spec.template" }
    ])
    expect(causes[0]!.message.startsWith('Invalid value: core.PodTemplateSpec{"metadata":{"labels":{"app":"train"}')).toBe(true)
  })

  it("lets a suspended Job that never started change its scheduling directives only", () => {
    const old = clone(JOB) as Record<string, any>
    old["spec"].suspend = true
    delete old["status"].startTime
    const next = clone(old)
    next["spec"].template.spec.nodeSelector = { "nvidia.com/gpu.product": "NVIDIA-B200" }
    next["spec"].template.metadata.labels = { app: "train", queue: "high" }
    expect(validateUpdate(next, old)).toEqual([])
    next["spec"].template.spec.containers[0].command = ["sleep", "1"]
    expect(validateUpdate(next, old).map((cause) => cause.field)).toEqual(["spec.template"])
  })

  it("keeps completions, selector and completionMode immutable, except completions in tandem with parallelism of an Indexed Job", () => {
    const old = clone(JOB) as Record<string, any>
    const next = clone(old)
    next["spec"].completions = 6
    next["spec"].parallelism = 6
    expect(validateUpdate(next, old)).toEqual([])
    next["spec"].parallelism = 3
    next["spec"].completionMode = "NonIndexed"
    next["spec"].selector = { matchLabels: { "batch.kubernetes.io/controller-uid": "other" } }
    expect(validateUpdate(next, old)).toEqual([
      { reason: "FieldValueInvalid", message: "Invalid value: 6: field is immutable", field: "spec.completions" },
      { reason: "FieldValueInvalid", message: 'Invalid value: v1.LabelSelector{"matchLabels":{"batch.kubernetes.io/controller-uid":"other"}}: field is immutable', field: "spec.selector" },
      { reason: "FieldValueInvalid", message: 'Invalid value: "NonIndexed": field is immutable', field: "spec.completionMode" }
    ])
  })

  it("keeps the spec of ResourceClaimTemplates and ResourceClaims immutable", () => {
    const next = clone(RESOURCE_CLAIM_TEMPLATE) as Record<string, any>
    next["spec"].spec.devices.requests[0].exactly.count = 2
    expect(validateUpdate(next, RESOURCE_CLAIM_TEMPLATE)).toEqual([
      { reason: "FieldValueInvalid", message: `Invalid value: resource.ResourceClaimTemplateSpec${JSON.stringify(next["spec"])}: field is immutable`, field: "spec" }
    ])
    const claim = VALID.find((object) => object["kind"] === "ResourceClaim")!
    const nextClaim = clone(claim) as Record<string, any>
    expect(validateUpdate(nextClaim, claim)).toEqual([])
    nextClaim["spec"].devices.requests[0].exactly.deviceClassName = "mig.nvidia.com"
    expect(validateUpdate(nextClaim, claim)).toEqual([
      { reason: "FieldValueInvalid", message: `Invalid value: resource.ResourceClaimSpec${JSON.stringify(nextClaim["spec"])}: field is immutable`, field: "spec" }
    ])
  })

  it("lets a Pod change images, activeDeadlineSeconds and add tolerations, and nothing else", () => {
    const pod = VALID.find((object) => object["kind"] === "Pod")!
    const next = clone(pod) as Record<string, any>
    next["spec"].containers[0].image = "nvcr.io/nvidia/tritonserver:25.02-py3"
    next["spec"].activeDeadlineSeconds = 3600
    next["spec"].tolerations.push({ key: "dedicated", operator: "Equal", value: "ml", effect: "NoExecute" })
    next["metadata"].labels = { app: "inference", canary: "true" }
    expect(validateUpdate(next, pod)).toEqual([])
    next["spec"].nodeName = "gpu-node-2"
    expect(validateUpdate(next, pod)).toEqual([
      {
        reason: "FieldValueForbidden",
        message:
          "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," +
          "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n" +
          '+ spec.nodeName: "gpu-node-2"',
        field: "spec"
      }
    ])
    const fewer = clone(pod) as Record<string, any>
    fewer["spec"].containers = []
    expect(validateUpdate(fewer, pod)).toEqual([{ reason: "FieldValueForbidden", message: "Forbidden: pod updates may not add or remove containers", field: "spec.containers" }])
  })

  it("keeps a Service's cluster IP once set, and an update without one keeps it", () => {
    const service = VALID.find((object) => object["kind"] === "Service")!
    const next = clone(service) as Record<string, any>
    delete next["spec"].clusterIP
    delete next["spec"].clusterIPs
    expect(validateUpdate(next, service)).toEqual([])
    next["spec"].clusterIP = "10.96.0.99"
    expect(validateUpdate(next, service)).toEqual([
      { reason: "FieldValueInvalid", message: 'Invalid value: []string{"10.96.0.99"}: may not change once set', field: "spec.clusterIPs[0]" }
    ])
  })

  it("freezes the data of immutable ConfigMaps and Secrets, and a Secret's type", () => {
    const config = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, immutable: true, data: { a: "1" } }
    expect(validateUpdate({ ...config, data: { a: "1" } }, config)).toEqual([])
    expect(validateUpdate({ ...config, immutable: false, data: { a: "2" } }, config)).toEqual([
      { reason: "FieldValueForbidden", message: "Forbidden: field is immutable when `immutable` is set", field: "immutable" },
      { reason: "FieldValueForbidden", message: "Forbidden: field is immutable when `immutable` is set", field: "data" }
    ])
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, type: "Opaque", immutable: true, data: { a: "MQ==" } }
    expect(validateUpdate({ ...secret, data: undefined, stringData: { a: "1" } }, secret)).toEqual([])
    expect(validateUpdate({ ...secret, type: "kubernetes.io/basic-auth", stringData: { b: "2" } }, secret)).toEqual([
      { reason: "FieldValueInvalid", message: 'Invalid value: "kubernetes.io/basic-auth": field is immutable', field: "type" },
      { reason: "FieldValueForbidden", message: "Forbidden: field is immutable when `immutable` is set", field: "data" }
    ])
  })

  it("refuses a new roleRef and has nothing to say about namespaces", () => {
    const binding = VALID.find((object) => object["kind"] === "RoleBinding")!
    const next = clone(binding) as Record<string, any>
    next["roleRef"].name = "admin"
    next["roleRef"].kind = "ClusterRole"
    expect(validateUpdate(next, binding)).toEqual([
      { reason: "FieldValueInvalid", message: 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"admin"}: cannot change roleRef', field: "roleRef" }
    ])
    const namespace = VALID[0]!
    expect(validateUpdate({ ...namespace, metadata: { name: "gpu-operator", labels: { team: "infra" } } }, namespace)).toEqual([])
  })
})
