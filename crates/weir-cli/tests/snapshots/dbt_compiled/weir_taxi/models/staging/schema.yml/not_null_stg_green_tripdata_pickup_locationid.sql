select pickup_locationid
from "warehouse"."analytics_staging"."stg_green_tripdata"
where pickup_locationid is null
