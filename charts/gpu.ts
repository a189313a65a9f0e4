import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import type { Construct } from 'constructs';
import type { ChartConfig } from './config.ts';
import { OfficialImages } from './images.ts';
import { labelsOf, plainEnv, resources } from './constructs/pod.ts';

/** The device plugin's config: with sharing > 1, time-slicing advertises each GPU that many times. */
export function devicePluginConfig(sharing: number): string {
  const base = 'version: v1\nflags:\n  migStrategy: none\n  failOnInitError: false\n';
  if (sharing <= 1) return base;
  return `${base}sharing:\n  timeSlicing:\n    resources:\n      - name: nvidia.com/gpu\n        replicas: ${sharing}\n`;
}

/**
 * The NVIDIA device plugin (kube-system), so `nvidia.com/gpu` becomes schedulable. It needs the
 * NVIDIA container runtime on the node; Docker Desktop does not set that up for Kubernetes.
 * @example new GpuChart(app, 'aiproc-gpu', cfg)
 */
export class GpuChart extends Chart {
  constructor(scope: Construct, id: string, cfg: ChartConfig) {
    super(scope, id, { disableResourceNameHashes: true });
    const ns = 'kube-system';
    const labels = labelsOf('nvidia-device-plugin');
    new k8s.KubeConfigMap(this, 'config', {
      metadata: { name: 'nvidia-device-plugin-config', namespace: ns, labels },
      data: { 'config.yaml': devicePluginConfig(cfg.env.AIPROC_GPU_SHARING) },
    });
    new k8s.KubeDaemonSet(this, 'plugin', {
      metadata: { name: 'nvidia-device-plugin-daemonset', namespace: ns, labels },
      spec: {
        selector: { matchLabels: labels },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels },
          spec: {
            priorityClassName: 'system-node-critical',
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [
              {
                name: 'nvidia-device-plugin-ctr',
                image: OfficialImages.devicePlugin,
                env: plainEnv({ CONFIG_FILE: '/config/config.yaml', FAIL_ON_INIT_ERROR: 'false' }),
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                volumeMounts: [
                  { name: 'device-plugin', mountPath: '/var/lib/kubelet/device-plugins' },
                  { name: 'config', mountPath: '/config', readOnly: true },
                ],
                resources: resources('10m', '32Mi', '200m', '128Mi'),
              },
            ],
            volumes: [
              { name: 'device-plugin', hostPath: { path: '/var/lib/kubelet/device-plugins' } },
              { name: 'config', configMap: { name: 'nvidia-device-plugin-config' } },
            ],
          },
        },
      },
    });
  }
}
