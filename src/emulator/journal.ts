import type { RequestNote } from './http';

/** One line of the request log. */
export interface RequestRecord extends RequestNote {
  /** ISO time the response was sent (or the connection dropped). */
  at: string;
  method: string;
  path: string;
  /** HTTP status; 0 when the connection was dropped without a response. */
  status: number;
}

/** The oldest records are forgotten past this many, so a long benchmark cannot exhaust memory. */
const maxRecords = 100_000;

export class RequestJournal {
  private records: RequestRecord[] = [];
  private statusCounts: Record<string, number> = {};

  add(record: RequestRecord): void {
    this.records.push(record);
    if (this.records.length > maxRecords) this.records.splice(0, this.records.length - maxRecords);
    if (record.status > 0) {
      const key = String(record.status);
      this.statusCounts[key] = (this.statusCounts[key] ?? 0) + 1;
    }
  }

  all(): RequestRecord[] {
    return this.records.map((record) => ({ ...record }));
  }

  /** Responses by HTTP status; dropped connections are not responses and are counted among the faults. */
  countsByStatus(): Record<string, number> {
    return { ...this.statusCounts };
  }

  reset(): void {
    this.records = [];
    this.statusCounts = {};
  }
}
