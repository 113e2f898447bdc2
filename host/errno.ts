// Error numbers as a person reads them: the text strerror(3) gives for the
// ones the kernel returns to us, the symbol for the rest.
import { constants as os } from "node:os";

export const errnoName = (n: number): string => {
  for (const [name, v] of Object.entries(os.errno)) if (v === n) return name;
  return `errno ${n}`;
};

const ERRNO_TEXT: Record<string, string> = {
  EEXIST: "File exists", ENOENT: "No such file or directory", EINVAL: "Invalid argument",
  EBUSY: "Device or resource busy", EOPNOTSUPP: "Operation not supported", ENOTSUP: "Operation not supported", // one number on Linux
  ENOMEM: "Cannot allocate memory",
  ETIME: "Timer expired", EPERM: "Operation not permitted", ENOSPC: "No space left on device",
};
export const strerror = (n: number): string => ERRNO_TEXT[errnoName(n)] ?? errnoName(n);
