export const PACKAGE_NAME = "@sluice/proto";
