/** The licensing contracts. */
import { defineEvent, defineQuery } from '@missive/core';
import { z } from 'zod';

export const Organization = z.object({ id: z.string(), name: z.string(), contactEmail: z.string() });

/** Published by the organization service for every create, update and delete. */
export const OrganizationChanged = defineEvent(
  'organization.changed',
  z.object({
    action: z.enum(['created', 'updated', 'deleted']),
    organizationId: z.string(),
  }),
  { partitionKey: (m) => m.organizationId },
);

/** Asked by licensing on a cache miss. */
export const GetOrganization = defineQuery(
  'organization.get',
  z.object({ id: z.string() }),
  z.object({ organization: Organization.nullable() }),
);
