// The wire protocol's shapes (PROTOCOL.md), as the client sees them.

export type Role = "ADMIN" | "TEACHER" | "STUDENT";

export interface User {
  ID: number;
  role: Role;
  name: string;
}

export interface ChatMessage {
  type: string;
  value: unknown;
}

/** The data of a `message` event: a delivered message. */
export interface Delivered {
  from: number;
  to?: number;
  id?: string;
  time?: number;
  message: ChatMessage;
}

export interface Payload<T> {
  msg: string;
  data: T;
}

/** The server's answer to an emit with an ack callback. */
export interface Ack {
  msg: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const ROOM_ID = 0;

export function isStaff(user: User | null | undefined): boolean {
  return !!user && (user.role === "TEACHER" || user.role === "ADMIN");
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function ackOk(ack: Ack): boolean {
  return ack.msg === "Message sent";
}
