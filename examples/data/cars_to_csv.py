# cars.json (vega_datasets, Debian python3-vega-datasets) -> examples/data/auto_mpg.csv
import json, sys
src = sys.argv[1] if len(sys.argv) > 1 else \
    '/usr/lib/python3/dist-packages/vega_datasets/_data/cars.json'
rows = json.load(open(src))
print('cylinders,displacement,horsepower,weight,acceleration,model_year,'
      'origin_usa,origin_europe,origin_japan,mpg')
for r in rows:
    if r['Miles_per_Gallon'] is None or r['Horsepower'] is None:
        continue  # 14 cars lack mpg or horsepower (StatLib marks them "?"): 392 remain
    o = r['Origin']
    print('%d,%g,%g,%g,%g,%d,%d,%d,%d,%g' % (
        r['Cylinders'], r['Displacement'], r['Horsepower'], r['Weight_in_lbs'],
        r['Acceleration'], int(r['Year'][:4]) - 1900,
        o == 'USA', o == 'Europe', o == 'Japan', r['Miles_per_Gallon']))
