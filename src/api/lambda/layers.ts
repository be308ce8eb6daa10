import { clientBaseUrl } from '../../core/base-url.js';
import type { LayerVersionRecord } from '../../core/model.js';
import type { ControlPlane } from '../../control/index.js';
import type { RestRequest, RestRouter, RouteOptions } from '../rest.js';
import { signedDownload } from './download.js';

const L = '/2018-10-31/layers';

/**
 * The layer operations of the Lambda API (2018-10-31): publish, get (by name and version, or by
 * ARN), list layers and versions, delete, and the version permissions. Content.Location is a
 * signed download URL, as GetFunction's Code.Location is.
 */
export function registerLayerRoutes(r: RestRouter, control: ControlPlane, baseUrl: () => string, publishOptions: RouteOptions): void {
  const { layers } = control;
  const location = (rec: LayerVersionRecord, req: RestRequest) =>
    `${clientBaseUrl(req.headers.host, baseUrl)}/_stratus/layers/${encodeURIComponent(rec.layerName)}/${rec.version}?${control.code.signLocation(`layer:${rec.layerName}`, String(rec.version), Date.now())}`;
  const full = (rec: LayerVersionRecord, req: RestRequest) => layerVersion(rec, layers.arn(rec.layerName), layers.arn(rec.layerName, rec.version), location(rec, req));

  r.route('POST', `${L}/:LayerName/versions`, 201, async (req) => full(await layers.publish({ ...req.json(), LayerName: req.params.LayerName }), req), publishOptions);
  r.route('GET', `${L}/:LayerName/versions`, 200, async (req) => {
    const page = await layers.listVersions(req.input());
    const out: Record<string, unknown> = { LayerVersions: page.items.map((rec) => listItem(rec, layers.arn(rec.layerName, rec.version))) };
    if (page.nextMarker !== undefined) out.NextMarker = page.nextMarker;
    return out;
  });
  r.route('GET', `${L}/:LayerName/versions/:VersionNumber`, 200, async (req) => full(await layers.get(req.input()), req));
  r.route('DELETE', `${L}/:LayerName/versions/:VersionNumber`, 204, async (req) => layers.delete(req.input()));
  // ListLayers, and GetLayerVersionByArn (?find=LayerVersion&Arn=...) on the same path.
  r.route('GET', L, 200, async (req) => {
    if (req.query.find === 'LayerVersion') return full(await layers.getByArn(req.input()), req);
    const page = await layers.list(req.input());
    const out: Record<string, unknown> = {
      Layers: page.items.map(({ name, latest }) => ({
        LayerName: name, LayerArn: layers.arn(name), LatestMatchingVersion: listItem(latest, layers.arn(name, latest.version)),
      })),
    };
    if (page.nextMarker !== undefined) out.NextMarker = page.nextMarker;
    return out;
  });

  // Permissions of a layer version.
  const P = `${L}/:LayerName/versions/:VersionNumber/policy`;
  r.route('POST', P, 201, async (req) => {
    const { statement, revisionId } = await layers.addPermission({ ...req.json(), ...req.params, RevisionId: req.query.RevisionId });
    return { Statement: statement, RevisionId: revisionId };
  });
  r.route('GET', P, 200, async (req) => {
    const { policy, revisionId } = await layers.getPolicy(req.input());
    return { Policy: policy, RevisionId: revisionId };
  });
  r.route('DELETE', `${P}/:StatementId`, 204, async (req) => layers.removePermission(req.input()));

  // Content.Location: signed, expires like a presigned URL.
  r.route('GET', '/_stratus/layers/:LayerName/:Version', 200, async (req) => {
    const { LayerName: name, Version: version } = req.params as { LayerName: string; Version: string };
    return signedDownload(control.code, { name: `layer:${name}`, version }, req.query, async () => {
      const rec = await layers.get({ LayerName: name, VersionNumber: version }).catch(() => undefined);
      return rec ? control.code.read(rec.codeKey) : undefined;
    }, 'The layer version is gone');
  });
}

/** PublishLayerVersion / GetLayerVersion(ByArn)'s shape. */
function layerVersion(rec: LayerVersionRecord, layerArn: string, versionArn: string, location: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Content: { Location: location, CodeSha256: rec.codeSha256, CodeSize: rec.codeSize },
    LayerArn: layerArn,
    LayerVersionArn: versionArn,
    Description: rec.description,
    CreatedDate: rec.createdDate,
    Version: rec.version,
  };
  return withCompat(out, rec);
}

/** LayerVersionsListItem. */
function listItem(rec: LayerVersionRecord, versionArn: string): Record<string, unknown> {
  return withCompat({ LayerVersionArn: versionArn, Version: rec.version, Description: rec.description, CreatedDate: rec.createdDate }, rec);
}

function withCompat(out: Record<string, unknown>, rec: LayerVersionRecord): Record<string, unknown> {
  if (rec.compatibleRuntimes) out.CompatibleRuntimes = [...rec.compatibleRuntimes];
  if (rec.licenseInfo !== null) out.LicenseInfo = rec.licenseInfo;
  if (rec.compatibleArchitectures) out.CompatibleArchitectures = [...rec.compatibleArchitectures];
  return out;
}
