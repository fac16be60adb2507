// Opens a DuckDB file read-only with @duckdb/node-api (the client Node BI tools ship) and
// prints {"version": ..., "counts": {"schema.table": rows}} for the tables named on the command line.
import { DuckDBInstance } from "@duckdb/node-api";

const [path, ...tables] = process.argv.slice(2);
const instance = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
const connection = await instance.connect();
const version = (await (await connection.run("select version()")).getRows())[0][0];
const counts = {};
for (const table of tables) {
  const rows = await (await connection.run(`select count(*) from ${table}`)).getRows();
  counts[table] = Number(rows[0][0]);
}
console.log(JSON.stringify({ version, counts }));
connection.closeSync();
instance.closeSync();
