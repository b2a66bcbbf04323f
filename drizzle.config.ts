// drizzle-kit settings: `npm run db:generate` turns changes in src/db/schema.ts into a new SQL
// migration in drizzle/, which openDatabase() applies at start-up.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
