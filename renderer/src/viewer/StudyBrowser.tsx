/** The open images as studies → series → images, each with its thumbnail. */
import { memo, useEffect, useMemo, useRef } from 'react';
import type { ImageSummary } from '../../../preload/contract.ts';

function Thumbnail({ thumb }: { thumb: ImageSummary['thumbnail'] }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c || thumb.width === 0 || thumb.height === 0 || thumb.rgba.length < thumb.width * thumb.height * 4) return;
    c.width = thumb.width;
    c.height = thumb.height;
    const data = new ImageData(new Uint8ClampedArray(thumb.rgba.buffer as ArrayBuffer, thumb.rgba.byteOffset, thumb.width * thumb.height * 4), thumb.width, thumb.height);
    c.getContext('2d')?.putImageData(data, 0, 0);
  }, [thumb]);
  return (
    <div className="thumb">
      <canvas ref={ref} />
    </div>
  );
}

interface Series {
  key: string;
  label: string;
  images: ImageSummary[];
}
interface Study {
  key: string;
  label: string;
  detail: string;
  series: Series[];
}

function group(images: ImageSummary[]): Study[] {
  const studies = new Map<string, Study>();
  for (const im of images) {
    const sKey = im.study.uid ?? (im.kind === 'raster' ? 'raster' : `nostudy:${im.study.patientId ?? ''}`);
    let study = studies.get(sKey);
    if (!study) {
      const label = im.kind === 'raster' && !im.study.uid ? 'Pictures' : im.study.description || im.study.patientName || 'Unnamed study';
      const detail = [im.study.patientName, im.study.patientId, formatDate(im.study.date)].filter(Boolean).join(' · ');
      study = { key: sKey, label, detail, series: [] };
      studies.set(sKey, study);
    }
    const serKey = im.series.uid ?? `${sKey}:${im.modality ?? im.kind}`;
    let series = study.series.find((s) => s.key === serKey);
    if (!series) {
      const label = [im.modality, im.series.number !== undefined ? `#${im.series.number}` : undefined, im.series.description].filter(Boolean).join(' ') || (im.kind === 'raster' ? 'Raster images' : 'Series');
      series = { key: serKey, label, images: [] };
      study.series.push(series);
    }
    series.images.push(im);
  }
  for (const s of studies.values()) for (const ser of s.series) ser.images.sort((a, b) => (a.instance.number ?? 0) - (b.instance.number ?? 0) || a.name.localeCompare(b.name));
  return [...studies.values()];
}

export function formatDate(d?: string): string | undefined {
  if (!d) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(d);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : d;
}

export const StudyBrowser = memo(function StudyBrowser({ images, selected, onSelect }: { images: ImageSummary[]; selected: string | null; onSelect(id: string): void }) {
  const studies = useMemo(() => group(images), [images]);
  if (images.length === 0) return <div className="empty-list">No images open.</div>;
  return (
    <div className="study-list" role="tree" aria-label="Studies">
      {studies.map((study) => (
        <div className="study" key={study.key} role="treeitem" aria-expanded="true">
          <div className="study-head">
            <div className="study-title">{study.label}</div>
            {study.detail && <div className="study-detail">{study.detail}</div>}
          </div>
          {study.series.map((series) => (
            <div className="series" key={series.key} role="group">
              <div className="series-head">
                {series.label}
                <span className="muted"> · {series.images.length}</span>
              </div>
              <div className="series-images">
                {series.images.map((im) => (
                  <button
                    key={im.id}
                    type="button"
                    className={im.id === selected ? 'image-item selected' : 'image-item'}
                    onClick={() => onSelect(im.id)}
                    title={im.path ?? im.name}
                    data-image-id={im.id}
                    aria-current={im.id === selected}
                  >
                    <Thumbnail thumb={im.thumbnail} />
                    <div className="image-meta">
                      <div className="image-name">{im.name}</div>
                      <div className="image-sub">
                        {im.columns}×{im.rows}
                        {im.frames > 1 ? ` · ${im.frames} fr` : ''} · {im.kind === 'dicom' ? `${im.bitsStored}-bit` : im.channels === 3 ? 'RGB' : 'grey'}
                      </div>
                    </div>
                  </button>
                ))}
              </div>
            </div>
          ))}
        </div>
      ))}
    </div>
  );
});
