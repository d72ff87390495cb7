import { MemoryDirectory } from "../../signaling/directory/memory-directory";
import { directorySuite } from "./directory-suite";

directorySuite("in-memory", async () => new MemoryDirectory());
